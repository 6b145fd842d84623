// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ProtocolParams} from "./ProtocolParams.sol";

/// @title DatanetRegistry
/// @notice On-chain anchor of community datasets ("datanets"): owner, metadata, license, access,
///         reviewers, and published versions (Merkle root of the rows) with the approved
///         contributions of each version. Publishing a version costs a governed fee in OPEN.
contract DatanetRegistry is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Who may contribute (enforced off-chain by the datanet service; recorded here).
    enum Policy {
        Open,
        AllowList,
        OwnerOnly
    }

    /// @notice A datanet.
    struct Datanet {
        address owner;
        bool permissioned;
        Policy policy;
        string license;
        string metadataURI;
        bytes32 metadataHash;
        uint32 versionCount;
    }

    /// @notice A published version of a datanet.
    struct Version {
        bytes32 root;
        uint64 rowCount;
        uint64 publishedAt;
        string contentURI;
    }

    /// @notice An approved contribution to a version.
    struct Contribution {
        address contributor;
        bytes32 contentHash;
    }

    /// @notice The OPEN token (publish fees).
    IERC20 public immutable open;
    /// @notice The governed parameters (fees, treasury).
    ProtocolParams public immutable params;
    /// @notice Number of datanets created (ids are 1..datanetCount).
    uint256 public datanetCount;

    mapping(uint256 id => Datanet) internal _datanets;
    mapping(uint256 id => mapping(uint32 version => Version)) internal _versions;
    mapping(uint256 id => mapping(uint32 version => uint256)) internal _contributionCounts;
    mapping(uint256 id => mapping(address account => bool)) internal _access;
    mapping(uint256 id => mapping(address account => bool)) internal _reviewers;

    /// @notice A datanet was created.
    event DatanetCreated(
        uint256 indexed id,
        address indexed owner,
        bool permissioned,
        Policy policy,
        string license,
        string metadataURI,
        bytes32 metadataHash
    );
    /// @notice A datanet's metadata changed.
    event MetadataUpdated(uint256 indexed id, string metadataURI, bytes32 metadataHash);
    /// @notice `account` may now read permissioned datanet `id`.
    event AccessGranted(uint256 indexed id, address indexed account);
    /// @notice `account` may no longer read permissioned datanet `id`.
    event AccessRevoked(uint256 indexed id, address indexed account);
    /// @notice `account` became (or stopped being) a reviewer of datanet `id`.
    event ReviewerSet(uint256 indexed id, address indexed account, bool allowed);
    /// @notice Version `version` of datanet `id` was published; `fee` OPEN went to the treasury.
    event VersionPublished(
        uint256 indexed id, uint32 indexed version, bytes32 root, uint64 rowCount, string contentURI, uint256 fee
    );
    /// @notice An approved contribution to version `version` of datanet `id`.
    event ContributionRecorded(
        uint256 indexed id, uint32 indexed version, address indexed contributor, bytes32 contentHash
    );

    /// @notice No datanet has this id.
    error UnknownDatanet(uint256 id);
    /// @notice Datanet `id` has no version `version`.
    error UnknownVersion(uint256 id, uint32 version);
    /// @notice `caller` is not the owner of datanet `id`.
    error NotDatanetOwner(uint256 id, address caller);
    /// @notice A required address was zero.
    error ZeroAddress();
    /// @notice A version's Merkle root was zero.
    error EmptyRoot();

    /// @param open_ The OPEN token.
    /// @param params_ The governed parameters.
    constructor(IERC20 open_, ProtocolParams params_) {
        if (address(open_) == address(0) || address(params_) == address(0)) revert ZeroAddress();
        open = open_;
        params = params_;
    }

    modifier onlyDatanetOwner(uint256 id) {
        _checkOwner(id);
        _;
    }

    /// @notice Creates a datanet owned by the caller.
    /// @param metadataURI Where the metadata document lives.
    /// @param metadataHash Hash of that document.
    /// @param license License identifier (e.g. an SPDX id).
    /// @param permissioned Whether reading needs a grant.
    /// @param policy Who may contribute.
    /// @return id The new datanet's id (from 1).
    function createDatanet(
        string calldata metadataURI,
        bytes32 metadataHash,
        string calldata license,
        bool permissioned,
        Policy policy
    ) external returns (uint256 id) {
        id = ++datanetCount;
        Datanet storage d = _datanets[id];
        d.owner = msg.sender;
        d.permissioned = permissioned;
        d.policy = policy;
        d.license = license;
        d.metadataURI = metadataURI;
        d.metadataHash = metadataHash;
        emit DatanetCreated(id, msg.sender, permissioned, policy, license, metadataURI, metadataHash);
    }

    /// @notice Replaces the metadata of datanet `id` (no new version). Owner only.
    /// @param id The datanet.
    /// @param metadataURI New metadata location.
    /// @param metadataHash New metadata hash.
    function updateMetadata(uint256 id, string calldata metadataURI, bytes32 metadataHash)
        external
        onlyDatanetOwner(id)
    {
        Datanet storage d = _datanets[id];
        d.metadataURI = metadataURI;
        d.metadataHash = metadataHash;
        emit MetadataUpdated(id, metadataURI, metadataHash);
    }

    /// @notice Lets `account` read permissioned datanet `id`. Owner only.
    /// @param id The datanet.
    /// @param account The reader.
    function grantAccess(uint256 id, address account) external onlyDatanetOwner(id) {
        if (account == address(0)) revert ZeroAddress();
        _access[id][account] = true;
        emit AccessGranted(id, account);
    }

    /// @notice Withdraws `account`'s read access to datanet `id`. Owner only.
    /// @param id The datanet.
    /// @param account The reader.
    function revokeAccess(uint256 id, address account) external onlyDatanetOwner(id) {
        if (account == address(0)) revert ZeroAddress();
        _access[id][account] = false;
        emit AccessRevoked(id, account);
    }

    /// @notice Whether `account` may read datanet `id` (public: everyone; permissioned: owner and grantees).
    /// @param id The datanet.
    /// @param account The reader.
    /// @return True if allowed.
    function hasAccess(uint256 id, address account) external view returns (bool) {
        Datanet storage d = _existing(id);
        return !d.permissioned || account == d.owner || _access[id][account];
    }

    /// @notice Makes `account` a reviewer of datanet `id` (or removes it). Owner only.
    /// @param id The datanet.
    /// @param account The reviewer.
    /// @param allowed True to add, false to remove.
    function setReviewer(uint256 id, address account, bool allowed) external onlyDatanetOwner(id) {
        if (account == address(0)) revert ZeroAddress();
        _reviewers[id][account] = allowed;
        emit ReviewerSet(id, account, allowed);
    }

    /// @notice Whether `account` reviews contributions to datanet `id`.
    /// @param id The datanet.
    /// @param account The account.
    /// @return True if a reviewer.
    function isReviewer(uint256 id, address account) external view returns (bool) {
        _existing(id);
        return _reviewers[id][account];
    }

    /// @notice Publishes a new version of datanet `id`. Owner only. Charges
    ///         `publishFeeBase + publishFeePerRow * rowCount` OPEN from the caller to the treasury.
    /// @param id The datanet.
    /// @param root Merkle root of the version's rows (nonzero).
    /// @param rowCount Number of rows.
    /// @param contentURI Where the rows can be fetched.
    /// @return version The new version number (from 1).
    function publishVersion(uint256 id, bytes32 root, uint64 rowCount, string calldata contentURI)
        external
        nonReentrant
        onlyDatanetOwner(id)
        returns (uint32 version)
    {
        if (root == bytes32(0)) revert EmptyRoot();
        ProtocolParams.Params memory p = params.params();
        uint256 fee = uint256(p.publishFeeBase) + uint256(p.publishFeePerRow) * rowCount;
        Datanet storage d = _datanets[id];
        version = ++d.versionCount;
        Version storage v = _versions[id][version];
        v.root = root;
        v.rowCount = rowCount;
        v.publishedAt = uint64(block.timestamp);
        v.contentURI = contentURI;
        emit VersionPublished(id, version, root, rowCount, contentURI, fee);
        if (fee != 0) open.safeTransferFrom(msg.sender, p.treasury, fee);
    }

    /// @notice Records approved contributions to a published version. Owner only.
    /// @param id The datanet.
    /// @param version A published version.
    /// @param contributions Contributor and content hash of each approved contribution.
    function recordContributions(uint256 id, uint32 version, Contribution[] calldata contributions)
        external
        onlyDatanetOwner(id)
    {
        if (version == 0 || version > _datanets[id].versionCount) revert UnknownVersion(id, version);
        uint256 n = contributions.length;
        for (uint256 i = 0; i < n; i++) {
            Contribution calldata c = contributions[i];
            if (c.contributor == address(0)) revert ZeroAddress();
            emit ContributionRecorded(id, version, c.contributor, c.contentHash);
        }
        _contributionCounts[id][version] += n;
    }

    /// @notice Number of contributions recorded for a version.
    /// @param id The datanet.
    /// @param version The version.
    /// @return The count.
    function contributionCount(uint256 id, uint32 version) external view returns (uint256) {
        _existingVersion(id, version);
        return _contributionCounts[id][version];
    }

    /// @notice Datanet `id`.
    /// @param id The datanet.
    /// @return The datanet record.
    function getDatanet(uint256 id) external view returns (Datanet memory) {
        return _existing(id);
    }

    /// @notice Version `version` of datanet `id`.
    /// @param id The datanet.
    /// @param version The version (from 1).
    /// @return The version record.
    function getVersion(uint256 id, uint32 version) external view returns (Version memory) {
        return _existingVersion(id, version);
    }

    /// @notice Whether datanet `id` exists and has version `version`.
    /// @param id The datanet.
    /// @param version The version.
    /// @return True if the version exists.
    function versionExists(uint256 id, uint32 version) external view returns (bool) {
        return version != 0 && version <= _datanets[id].versionCount;
    }

    function _existing(uint256 id) internal view returns (Datanet storage d) {
        d = _datanets[id];
        if (d.owner == address(0)) revert UnknownDatanet(id);
    }

    function _existingVersion(uint256 id, uint32 version) internal view returns (Version storage) {
        Datanet storage d = _existing(id);
        if (version == 0 || version > d.versionCount) revert UnknownVersion(id, version);
        return _versions[id][version];
    }

    function _checkOwner(uint256 id) internal view {
        address owner = _existing(id).owner;
        if (msg.sender != owner) revert NotDatanetOwner(id, msg.sender);
    }
}
