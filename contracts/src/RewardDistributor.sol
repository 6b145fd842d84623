// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ProtocolParams} from "./ProtocolParams.sol";
import {Staking} from "./Staking.sol";
import {IEpochClock} from "./interfaces/IEpochClock.sol";

/// @title RewardDistributor
/// @notice Contributors' rewards. The escrow funds the current epoch's pool with the contributors'
///         share of every fee; a staked settler closes the epoch by posting the Merkle root of
///         {index, account, amount} leaves (the StandardMerkleTree of the npm package
///         openzeppelin/merkle-tree with ["uint256","address","uint256"]; `index` is the leaf's
///         position in the reward list, 0..n-1); after the challenge window each leaf claims once. A challenged
///         root freezes claims until governance resolves it; a voided root returns its total to the
///         carry and its settler is slashed. The epoch number is the protocol's epoch clock.
/// @dev Gas of `postRoot` does not depend on the number of contributors; `claim` is O(log n).
///      Claimed flags are packed 255 leaves per storage word per epoch; the word's top bit is a
///      "prepared" mark. `prepareClaims` (the settler's job after posting, about 87 gas per leaf)
///      sets that mark so every claim flips a bit in a nonzero word (5,000 gas) instead of paying
///      the 22,100 of a zero-to-nonzero write; this is what keeps the worst claim, a new account
///      whose token balance is itself a fresh slot, under 90,000 gas. Unprepared words still work:
///      their first claim pays the fresh slot. OpenZeppelin BitMaps has no such mark, hence our own.
contract RewardDistributor is IEpochClock, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev Hot data read by `claim`, packed in one slot: 96 bits hold the whole OPEN supply.
    struct EpochState {
        uint96 total;
        uint96 claimed;
        uint40 claimableAt;
        bool challenged;
        bool challengeResolved;
        bool voided;
    }

    /// @dev Data read by `claim` (root, state), data only shown (settler, postedAt, uri) and the
    ///      pending challenge's bond.
    struct Epoch {
        bytes32 root;
        EpochState state;
        address settler;
        uint64 postedAt;
        string uri;
        address challenger;
        uint96 bond;
    }

    /// @notice The OPEN token.
    IERC20 public immutable open;
    /// @notice The governed parameters.
    ProtocolParams public immutable params;
    /// @notice Staking (settler checks and slashing).
    Staking public immutable staking;
    /// @notice The TimelockController: resolves challenges.
    address public immutable governance;
    /// @notice The deployer, who sets the escrow once.
    address public immutable deployer;
    /// @notice The InferenceEscrow, the only funder.
    address public escrow;

    /// @notice The epoch now accumulating fees (starts at 1).
    uint256 public currentEpoch = 1;
    /// @notice OPEN left over from posted epochs (and voided roots), available to the next root.
    uint256 public carry;
    /// @notice OPEN held as bonds of pending challenges.
    uint256 public heldBonds;
    /// @notice Fees added to each epoch's pool by the escrow.
    mapping(uint256 epoch => uint256) public pool;

    /// @notice Leaves per claimed-flags word; bit 255 of each word is the prepared mark.
    uint256 public constant LEAVES_PER_WORD = 255;
    uint256 private constant PREPARED = 1 << 255;

    mapping(uint256 epoch => Epoch) internal _epochs;
    /// @dev Claimed flags: word `index / 255` of epoch `epoch`, bit `index % 255`.
    mapping(uint256 epoch => mapping(uint256 word => uint256)) internal _claimedWords;

    /// @notice The escrow was set.
    event EscrowSet(address escrow);
    /// @notice `amount` OPEN joined epoch `epoch`'s pool.
    event Funded(uint256 indexed epoch, uint256 amount);
    /// @notice `settler` posted epoch `epoch`'s root; `carry` OPEN carries to the next epoch.
    event RootPosted(
        uint256 indexed epoch,
        bytes32 root,
        uint256 total,
        address indexed settler,
        string uri,
        uint256 carry,
        uint256 claimableAt
    );
    /// @notice The leaf `index` of epoch `epoch` was claimed: `amount` OPEN paid to `account`.
    event Claimed(uint256 indexed epoch, uint256 index, address indexed account, uint256 amount);
    /// @notice `challenger` challenged epoch `epoch`'s root, bonding `bond` OPEN; claims are frozen.
    event Challenged(uint256 indexed epoch, address indexed challenger, uint256 bond, string evidenceURI);
    /// @notice Claimed-flag words `firstWord`..`firstWord + count - 1` of epoch `epoch` were prepared.
    event ClaimsPrepared(uint256 indexed epoch, uint256 firstWord, uint256 count);
    /// @notice Governance resolved the challenge; if the root was invalid, `returned` OPEN went
    ///         back to the carry, `slashed` OPEN of the settler's stake was slashed and the bond
    ///         went back to the challenger; if valid, the bond went to the treasury. `bondTo` got
    ///         `bond`.
    event ChallengeResolved(
        uint256 indexed epoch, bool rootValid, uint256 returned, uint256 slashed, address bondTo, uint256 bond
    );

    /// @notice Only the escrow may fund.
    error NotEscrow();
    /// @notice `settler` is not an active Settler staker.
    error SettlerNotStaked(address settler);
    /// @notice The epoch given is not the one expected.
    error WrongEpoch(uint256 expected, uint256 given);
    /// @notice The posted total exceeds what the epoch can pay.
    error TotalExceedsPool(uint256 total, uint256 pool);
    /// @notice The Merkle proof does not lead to the epoch's root.
    error InvalidProof();
    /// @notice The leaf `index` of `epoch` was already claimed.
    error AlreadyClaimed(uint256 epoch, uint256 index);
    /// @notice Claims open at `until`.
    error ChallengeWindowOpen(uint256 until);
    /// @notice The challenge window has passed (or the root was already judged valid).
    error ChallengeWindowClosed();
    /// @notice Epoch `epoch` is under challenge.
    error EpochChallenged(uint256 epoch);
    /// @notice Epoch `epoch`'s root was voided.
    error EpochVoided(uint256 epoch);
    /// @notice Epoch `epoch` has no root yet.
    error EpochNotPosted(uint256 epoch);
    /// @notice Epoch `epoch` is not under challenge.
    error NotChallenged(uint256 epoch);
    /// @notice Claims would exceed the epoch's total (the tree sums to more than posted).
    error ClaimExceedsTotal(uint256 epoch);
    /// @notice An amount was zero.
    error ZeroAmount();
    /// @notice A required address was zero.
    error ZeroAddress();
    /// @notice The caller may not do this.
    error Unauthorized();
    /// @notice The escrow was already set.
    error EscrowAlreadySet();
    /// @notice `count` words is more than one call may prepare (`max`).
    error TooManyWords(uint256 count, uint256 max);

    /// @param open_ The OPEN token.
    /// @param params_ The governed parameters.
    /// @param staking_ Staking.
    /// @param governance_ The TimelockController.
    constructor(IERC20 open_, ProtocolParams params_, Staking staking_, address governance_) {
        if (
            address(open_) == address(0) || address(params_) == address(0) || address(staking_) == address(0)
                || governance_ == address(0)
        ) revert ZeroAddress();
        open = open_;
        params = params_;
        staking = staking_;
        governance = governance_;
        deployer = msg.sender;
    }

    /// @notice Sets the InferenceEscrow, the only address that may fund. Once, by the deployer.
    /// @param escrow_ The escrow.
    function setEscrow(address escrow_) external {
        if (msg.sender != deployer) revert Unauthorized();
        if (escrow != address(0)) revert EscrowAlreadySet();
        if (escrow_ == address(0)) revert ZeroAddress();
        escrow = escrow_;
        emit EscrowSet(escrow_);
    }

    /// @notice Pulls `amount` OPEN from the escrow into the current epoch's pool. Only the escrow.
    /// @param amount Wei of OPEN.
    function fund(uint256 amount) external nonReentrant {
        if (msg.sender != escrow) revert NotEscrow();
        if (amount == 0) revert ZeroAmount();
        uint256 epoch = currentEpoch;
        pool[epoch] += amount;
        emit Funded(epoch, amount);
        open.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Closes the current epoch with the root of its rewards. An active Settler only.
    ///         `total` may not exceed the epoch's pool plus the carry; the rest carries over.
    /// @param epoch Must equal `currentEpoch()`.
    /// @param root Merkle root of the (index, account, amount) leaves.
    /// @param total Sum of the amounts in the tree.
    /// @param uri Where the full reward list (and proofs) can be fetched.
    function postRoot(uint256 epoch, bytes32 root, uint256 total, string calldata uri) external {
        uint256 expected = currentEpoch;
        if (epoch != expected) revert WrongEpoch(expected, epoch);
        if (!staking.isActive(msg.sender, Staking.Role.Settler)) revert SettlerNotStaked(msg.sender);
        uint256 available = pool[epoch] + carry;
        if (total > available) revert TotalExceedsPool(total, available);
        uint256 newCarry = available - total;
        carry = newCarry;
        uint256 openAt = block.timestamp + params.params().challengeWindow;
        Epoch storage e = _epochs[epoch];
        e.root = root;
        e.state = EpochState({
            total: SafeCast.toUint96(total),
            claimed: 0,
            claimableAt: SafeCast.toUint40(openAt),
            challenged: false,
            challengeResolved: false,
            voided: false
        });
        e.settler = msg.sender;
        e.postedAt = uint64(block.timestamp);
        e.uri = uri;
        currentEpoch = expected + 1;
        emit RootPosted(epoch, root, total, msg.sender, uri, newCarry, openAt);
    }

    /// @notice Pays `account` its reward for `epoch`, proven against the epoch's root. Anyone may
    ///         submit; the OPEN always goes to `account`. Once per leaf (index) per epoch.
    /// @param epoch A posted epoch whose challenge window has passed.
    /// @param index The leaf's index in the epoch's reward list (its claimed bit).
    /// @param account The rewarded account.
    /// @param amount Its reward in wei of OPEN.
    /// @param proof Merkle proof of the leaf
    ///        keccak256(bytes.concat(keccak256(abi.encode(index, account, amount)))).
    function claim(uint256 epoch, uint256 index, address account, uint256 amount, bytes32[] calldata proof)
        external
        nonReentrant
    {
        Epoch storage e = _epochs[epoch];
        EpochState memory s = e.state;
        if (s.claimableAt == 0) revert EpochNotPosted(epoch);
        if (s.voided) revert EpochVoided(epoch);
        if (s.challenged) revert EpochChallenged(epoch);
        if (block.timestamp < s.claimableAt) revert ChallengeWindowOpen(s.claimableAt);
        mapping(uint256 => uint256) storage words = _claimedWords[epoch];
        uint256 wordIndex = index / LEAVES_PER_WORD;
        uint256 bit = 1 << (index % LEAVES_PER_WORD);
        uint256 word = words[wordIndex];
        if (word & bit != 0) revert AlreadyClaimed(epoch, index);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))));
        if (!MerkleProof.verifyCalldata(proof, e.root, leaf)) revert InvalidProof();
        uint256 claimed = uint256(s.claimed) + amount;
        if (claimed > s.total) revert ClaimExceedsTotal(epoch);
        words[wordIndex] = word | bit;
        // forge-lint: disable-next-line(unsafe-typecast)
        e.state.claimed = uint96(claimed); // claimed <= s.total, a uint96
        emit Claimed(epoch, index, account, amount);
        open.safeTransfer(account, amount);
    }

    /// @notice Marks `count` claimed-flag words of a posted epoch, starting at `firstWord`, as
    ///         prepared, so that each of their 255 leaves' claims writes a nonzero word. The settler
    ///         calls it after `postRoot` for words 0..ceil(leaves / 255) - 1; anyone may (it only
    ///         spends the caller's gas). Preparing a word twice changes nothing.
    /// @param epoch A posted, not voided epoch.
    /// @param firstWord The first word (leaf `firstWord * 255`).
    /// @param count How many words, at most 1,024 per call (about 22.5M gas).
    function prepareClaims(uint256 epoch, uint256 firstWord, uint256 count) external {
        EpochState memory s = _epochs[epoch].state;
        if (s.claimableAt == 0) revert EpochNotPosted(epoch);
        if (s.voided) revert EpochVoided(epoch);
        if (count == 0) revert ZeroAmount();
        if (count > 1_024) revert TooManyWords(count, 1_024);
        mapping(uint256 => uint256) storage words = _claimedWords[epoch];
        for (uint256 i = firstWord; i < firstWord + count; ++i) {
            words[i] |= PREPARED;
        }
        emit ClaimsPrepared(epoch, firstWord, count);
    }

    /// @notice Challenges epoch `epoch`'s root within its window; claims freeze until governance
    ///         resolves. Anyone may challenge by bonding the governed `challengeBond` in OPEN (the
    ///         caller approves it first): refunded if the root is judged invalid, paid to the
    ///         treasury if it is judged valid, so freezing an honest epoch's claims costs the bond.
    ///         The evidence is off-chain.
    /// @param epoch A posted epoch.
    /// @param evidenceURI Where the evidence lives.
    function challenge(uint256 epoch, string calldata evidenceURI) external nonReentrant {
        Epoch storage e = _epochs[epoch];
        EpochState storage s = e.state;
        if (s.claimableAt == 0) revert EpochNotPosted(epoch);
        if (s.voided) revert EpochVoided(epoch);
        if (s.challenged) revert EpochChallenged(epoch);
        if (block.timestamp >= s.claimableAt || s.challengeResolved) revert ChallengeWindowClosed();
        uint96 bond = params.params().challengeBond;
        s.challenged = true;
        e.challenger = msg.sender;
        e.bond = bond;
        heldBonds += bond;
        emit Challenged(epoch, msg.sender, bond, evidenceURI);
        if (bond != 0) open.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @notice Judges a challenged root. Only governance. Valid: claims resume (after the window)
    ///         and the challenger's bond goes to the treasury. Invalid: the root is void, its
    ///         unclaimed total returns to the carry, the settler loses `slashBps` of its Settler
    ///         stake to the treasury, and the bond goes back to the challenger.
    /// @param epoch A challenged epoch.
    /// @param rootValid Whether the root stands.
    function resolveChallenge(uint256 epoch, bool rootValid) external nonReentrant {
        if (msg.sender != governance) revert Unauthorized();
        Epoch storage e = _epochs[epoch];
        EpochState storage s = e.state;
        if (!s.challenged) revert NotChallenged(epoch);
        s.challenged = false;
        s.challengeResolved = true;
        uint256 bond = e.bond;
        heldBonds -= bond;
        e.bond = 0;
        ProtocolParams.Params memory p = params.params();
        if (rootValid) {
            emit ChallengeResolved(epoch, true, 0, 0, p.treasury, bond);
            if (bond != 0) open.safeTransfer(p.treasury, bond);
            return;
        }
        s.voided = true;
        uint256 returned = uint256(s.total) - s.claimed;
        carry += returned;
        address settler = e.settler;
        address challenger = e.challenger;
        uint256 toSlash = (staking.stakeOf(settler, Staking.Role.Settler) * p.slashBps) / 10_000;
        uint256 slashed;
        if (toSlash != 0) slashed = staking.slash(settler, Staking.Role.Settler, toSlash, p.treasury);
        emit ChallengeResolved(epoch, false, returned, slashed, challenger, bond);
        if (bond != 0) open.safeTransfer(challenger, bond);
    }

    /// @notice Epoch `epoch`'s posted root and status.
    /// @param epoch The epoch.
    /// @return root The Merkle root (zero if not posted).
    /// @return total Sum of the rewards in the tree.
    /// @return claimed Sum claimed so far.
    /// @return postedAt When the root was posted (0 if not).
    /// @return settler Who posted it.
    /// @return uri Where the reward list lives.
    /// @return challenged Whether a challenge is pending.
    /// @return voided Whether governance voided the root.
    function epochInfo(uint256 epoch)
        external
        view
        returns (
            bytes32 root,
            uint256 total,
            uint256 claimed,
            uint64 postedAt,
            address settler,
            string memory uri,
            bool challenged,
            bool voided
        )
    {
        Epoch storage e = _epochs[epoch];
        EpochState memory s = e.state;
        return (e.root, s.total, s.claimed, e.postedAt, e.settler, e.uri, s.challenged, s.voided);
    }

    /// @notice The pending challenge of `epoch`, if any.
    /// @param epoch The epoch.
    /// @return challenger Who challenged (zero if none pending).
    /// @return bond The OPEN it bonded.
    function challengeOf(uint256 epoch) external view returns (address challenger, uint256 bond) {
        Epoch storage e = _epochs[epoch];
        if (!e.state.challenged) return (address(0), 0);
        return (e.challenger, e.bond);
    }

    /// @notice When claims for `epoch` open (0 if no root is posted).
    /// @param epoch The epoch.
    /// @return The timestamp.
    function claimableAt(uint256 epoch) external view returns (uint256) {
        return _epochs[epoch].state.claimableAt;
    }

    /// @notice Whether claimed-flag word `word` of `epoch` (leaves `word * 255` to `word * 255 + 254`)
    ///         has been prepared.
    /// @param epoch The epoch.
    /// @param word The word's number.
    /// @return True if prepared.
    function isPrepared(uint256 epoch, uint256 word) external view returns (bool) {
        return _claimedWords[epoch][word] & PREPARED != 0;
    }

    /// @notice Whether the leaf `index` of `epoch` has been claimed.
    /// @param epoch The epoch.
    /// @param index The leaf's index in the epoch's reward list.
    /// @return True if claimed.
    function isClaimed(uint256 epoch, uint256 index) external view returns (bool) {
        return _claimedWords[epoch][index / LEAVES_PER_WORD] & (1 << (index % LEAVES_PER_WORD)) != 0;
    }
}
