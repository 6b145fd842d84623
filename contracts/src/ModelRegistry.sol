// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DatanetRegistry} from "./DatanetRegistry.sol";

/// @title ModelRegistry
/// @notice Registry of fine-tuned models (LoRA adapters) with their lineage: base model, adapter,
///         training config and attribution index hashes, and the datanet versions they were trained
///         on. Prices are per 1,000 input and per 1,000 output tokens, in wei of OPEN.
contract ModelRegistry {
    /// @notice A datanet version a model was trained on.
    struct DatanetVersionRef {
        uint256 datanetId;
        uint32 version;
    }

    /// @notice What `registerModel` takes.
    struct ModelInput {
        bytes32 baseModelHash;
        bytes32 adapterHash;
        bytes32 trainingConfigHash;
        bytes32 attributionIndexHash;
        uint128 pricePerKInput;
        uint128 pricePerKOutput;
        string uri;
        DatanetVersionRef[] datanets;
    }

    struct Model {
        address owner;
        bool deprecated;
        bytes32 baseModelHash;
        bytes32 adapterHash;
        bytes32 trainingConfigHash;
        bytes32 attributionIndexHash;
        uint128 pricePerKInput;
        uint128 pricePerKOutput;
        string uri;
    }

    /// @notice The datanet registry lineage refers to.
    DatanetRegistry public immutable datanets;
    /// @notice Number of registered models (ids are 1..modelCount).
    uint256 public modelCount;

    mapping(uint256 id => Model) internal _models;
    mapping(uint256 id => DatanetVersionRef[]) internal _lineage;

    /// @notice Model `id` was registered by `owner`.
    event ModelRegistered(
        uint256 indexed id,
        address indexed owner,
        bytes32 baseModelHash,
        bytes32 adapterHash,
        bytes32 trainingConfigHash,
        bytes32 attributionIndexHash,
        string uri
    );
    /// @notice One datanet version in model `id`'s lineage (emitted once per reference at registration).
    event LineageRecorded(uint256 indexed id, uint256 indexed datanetId, uint32 version);
    /// @notice Model `id`'s prices were set.
    event PriceSet(uint256 indexed id, uint128 pricePerKInput, uint128 pricePerKOutput);
    /// @notice Model `id` was deprecated by its owner.
    event Deprecated(uint256 indexed id);

    /// @notice No model has this id.
    error UnknownModel(uint256 id);
    /// @notice `caller` does not own model `id`.
    error NotModelOwner(uint256 id, address caller);
    /// @notice Datanet `datanetId` has no version `version`.
    error UnknownDatanetVersion(uint256 datanetId, uint32 version);
    /// @notice Model `id` is deprecated.
    error ModelDeprecated(uint256 id);
    /// @notice A required address was zero.
    error ZeroAddress();

    /// @param datanets_ The DatanetRegistry.
    constructor(DatanetRegistry datanets_) {
        if (address(datanets_) == address(0)) revert ZeroAddress();
        datanets = datanets_;
    }

    /// @notice Registers a model owned by the caller. Every referenced datanet version must exist.
    /// @param m The model's hashes, prices, URI and lineage.
    /// @return id The new model's id (from 1).
    function registerModel(ModelInput calldata m) external returns (uint256 id) {
        uint256 n = m.datanets.length;
        for (uint256 i = 0; i < n; i++) {
            DatanetVersionRef calldata r = m.datanets[i];
            if (!datanets.versionExists(r.datanetId, r.version)) {
                revert UnknownDatanetVersion(r.datanetId, r.version);
            }
        }
        id = ++modelCount;
        Model storage s = _models[id];
        s.owner = msg.sender;
        s.baseModelHash = m.baseModelHash;
        s.adapterHash = m.adapterHash;
        s.trainingConfigHash = m.trainingConfigHash;
        s.attributionIndexHash = m.attributionIndexHash;
        s.pricePerKInput = m.pricePerKInput;
        s.pricePerKOutput = m.pricePerKOutput;
        s.uri = m.uri;
        DatanetVersionRef[] storage lineage = _lineage[id];
        for (uint256 i = 0; i < n; i++) {
            lineage.push(m.datanets[i]);
            emit LineageRecorded(id, m.datanets[i].datanetId, m.datanets[i].version);
        }
        emit ModelRegistered(
            id, msg.sender, m.baseModelHash, m.adapterHash, m.trainingConfigHash, m.attributionIndexHash, m.uri
        );
        emit PriceSet(id, m.pricePerKInput, m.pricePerKOutput);
    }

    /// @notice Sets model `id`'s prices. Model owner only; not for deprecated models.
    /// @param id The model.
    /// @param pricePerKInput Wei of OPEN per 1,000 input tokens.
    /// @param pricePerKOutput Wei of OPEN per 1,000 output tokens.
    function setPrice(uint256 id, uint128 pricePerKInput, uint128 pricePerKOutput) external {
        Model storage s = _ownedActive(id);
        s.pricePerKInput = pricePerKInput;
        s.pricePerKOutput = pricePerKOutput;
        emit PriceSet(id, pricePerKInput, pricePerKOutput);
    }

    /// @notice Marks model `id` deprecated (no longer offered). Model owner only; irreversible.
    /// @param id The model.
    function deprecate(uint256 id) external {
        Model storage s = _ownedActive(id);
        s.deprecated = true;
        emit Deprecated(id);
    }

    /// @notice Model `id`.
    /// @param id The model.
    /// @return owner The owner (receives the model owner's fee share).
    /// @return baseModelHash Hash of the base model weights.
    /// @return adapterHash Hash of the adapter.
    /// @return trainingConfigHash Hash of the training configuration.
    /// @return attributionIndexHash Hash of the attribution index.
    /// @return pricePerKInput Wei of OPEN per 1,000 input tokens.
    /// @return pricePerKOutput Wei of OPEN per 1,000 output tokens.
    /// @return uri Where the model and its metadata live.
    /// @return deprecated Whether the owner deprecated it.
    function getModel(uint256 id)
        external
        view
        returns (
            address owner,
            bytes32 baseModelHash,
            bytes32 adapterHash,
            bytes32 trainingConfigHash,
            bytes32 attributionIndexHash,
            uint128 pricePerKInput,
            uint128 pricePerKOutput,
            string memory uri,
            bool deprecated
        )
    {
        Model storage s = _existing(id);
        return (
            s.owner,
            s.baseModelHash,
            s.adapterHash,
            s.trainingConfigHash,
            s.attributionIndexHash,
            s.pricePerKInput,
            s.pricePerKOutput,
            s.uri,
            s.deprecated
        );
    }

    /// @notice The datanet versions model `id` was trained on.
    /// @param id The model.
    /// @return The lineage.
    function getLineage(uint256 id) external view returns (DatanetVersionRef[] memory) {
        _existing(id);
        return _lineage[id];
    }

    /// @notice Owner of model `id` (reverts for unknown ids).
    /// @param id The model.
    /// @return The owner.
    function ownerOf(uint256 id) external view returns (address) {
        return _existing(id).owner;
    }

    function _existing(uint256 id) internal view returns (Model storage s) {
        s = _models[id];
        if (s.owner == address(0)) revert UnknownModel(id);
    }

    function _ownedActive(uint256 id) internal view returns (Model storage s) {
        s = _existing(id);
        if (s.owner != msg.sender) revert NotModelOwner(id, msg.sender);
        if (s.deprecated) revert ModelDeprecated(id);
    }
}
