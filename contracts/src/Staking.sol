// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ProtocolParams} from "./ProtocolParams.sol";

/// @title Staking
/// @notice Operators (who serve inference and redeem vouchers) and settlers (who post reward roots)
///         stake OPEN. Unstaking starts an unbonding period; a proven fault is slashed by governance
///         or by a listed slasher. Stakers share the stakers' part of every fee, pro rata to the OPEN
///         they have staked (both roles; unbonding OPEN earns nothing).
/// @dev Accounting identity: totalStaked + totalUnbonding + totalWithdrawn + totalSlashed == totalDeposited.
///      Unbonding is one bucket per (account, role): a new unstake adds to it and restarts its timer.
contract Staking is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice What a stake is for.
    enum Role {
        Operator,
        Settler
    }

    /// @notice OPEN waiting to be withdrawn after unstaking.
    struct Unbonding {
        uint128 amount;
        uint64 readyAt;
    }

    uint256 internal constant PRECISION = 1e18;

    /// @notice The OPEN token.
    IERC20 public immutable open;
    /// @notice The governed parameters (minimum stakes, unbonding period, treasury).
    ProtocolParams public immutable params;
    /// @notice The TimelockController: slashes and manages slashers.
    address public immutable governance;
    /// @notice The deployer, who may add one slasher before handing over.
    address public immutable deployer;
    /// @notice Whether the deployer has used its one `setSlasher`.
    bool public deployerSlasherSet;

    mapping(address account => mapping(Role role => uint256)) internal _stakes;
    mapping(address account => mapping(Role role => Unbonding)) internal _unbonding;
    /// @notice Addresses allowed to slash, besides governance.
    mapping(address account => bool) public isSlasher;

    /// @notice OPEN currently staked, all accounts and roles.
    uint256 public totalStaked;
    /// @notice OPEN currently unbonding.
    uint256 public totalUnbonding;
    /// @notice OPEN ever staked.
    uint256 public totalDeposited;
    /// @notice OPEN ever withdrawn after unbonding.
    uint256 public totalWithdrawn;
    /// @notice OPEN ever slashed.
    uint256 public totalSlashed;

    /// @notice Accumulated reward per staked OPEN, scaled by 1e18.
    uint256 public rewardPerTokenStored;
    /// @notice Rewards notified but not yet paid out (claimable plus rounding dust).
    uint256 public rewardReserve;
    mapping(address account => uint256) internal _rewardPerTokenPaid;
    mapping(address account => uint256) internal _rewards;

    /// @notice `account` staked `amount` for `role`.
    event Staked(address indexed account, Role indexed role, uint256 amount);
    /// @notice `account` started unbonding `amount` of its `role` stake; withdrawable at `readyAt`.
    event UnstakeStarted(address indexed account, Role indexed role, uint256 amount, uint64 readyAt);
    /// @notice `account` withdrew `amount` of matured unbonding OPEN.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice `amount` of `account`'s `role` stake (then unbonding) went to `recipient`.
    event Slashed(address indexed account, Role indexed role, uint256 amount, address indexed recipient);
    /// @notice `from` added `amount` of stakers' fees (sent to the treasury if nothing was staked).
    event RewardNotified(address indexed from, uint256 amount, bool toTreasury);
    /// @notice `account` claimed `amount` of fees.
    event RewardClaimed(address indexed account, uint256 amount);
    /// @notice `slasher` was allowed (or no longer allowed) to slash.
    event SlasherSet(address indexed slasher, bool allowed);

    /// @notice The caller may not do this.
    error Unauthorized();
    /// @notice A required address was zero.
    error ZeroAddress();
    /// @notice An amount was zero.
    error ZeroAmount();
    /// @notice Not enough staked: `available` < `requested`.
    error InsufficientStake(uint256 available, uint256 requested);
    /// @notice No unbonding OPEN has matured.
    error NothingToWithdraw();
    /// @notice No fees to claim.
    error NothingToClaim();

    /// @param open_ The OPEN token.
    /// @param params_ The governed parameters.
    /// @param governance_ The TimelockController.
    constructor(IERC20 open_, ProtocolParams params_, address governance_) {
        if (address(open_) == address(0) || address(params_) == address(0) || governance_ == address(0)) {
            revert ZeroAddress();
        }
        open = open_;
        params = params_;
        governance = governance_;
        deployer = msg.sender;
    }

    modifier updateReward(address account) {
        _updateReward(account);
        _;
    }

    /// @notice Stakes `amount` OPEN for `role` (needs an allowance).
    /// @param role Operator or Settler.
    /// @param amount Wei of OPEN.
    function stake(Role role, uint256 amount) external nonReentrant updateReward(msg.sender) {
        if (amount == 0) revert ZeroAmount();
        _stakes[msg.sender][role] += amount;
        totalStaked += amount;
        totalDeposited += amount;
        emit Staked(msg.sender, role, amount);
        open.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Starts unbonding `amount` of the caller's `role` stake; it stops earning fees now and
    ///         can be withdrawn after the unbonding period (the whole bucket's timer restarts).
    /// @param role Operator or Settler.
    /// @param amount Wei of OPEN.
    function unstake(Role role, uint256 amount) external updateReward(msg.sender) {
        if (amount == 0) revert ZeroAmount();
        uint256 staked = _stakes[msg.sender][role];
        if (amount > staked) revert InsufficientStake(staked, amount);
        _stakes[msg.sender][role] = staked - amount;
        totalStaked -= amount;
        totalUnbonding += amount;
        Unbonding storage u = _unbonding[msg.sender][role];
        uint64 readyAt = uint64(block.timestamp) + params.params().unbondingPeriod;
        if (u.readyAt > readyAt) readyAt = u.readyAt;
        u.amount += SafeCast.toUint128(amount);
        u.readyAt = readyAt;
        emit UnstakeStarted(msg.sender, role, amount, readyAt);
    }

    /// @notice Withdraws all of the caller's unbonding OPEN whose period has ended (both roles).
    function withdraw() external nonReentrant {
        uint256 amount;
        for (uint256 r = 0; r < 2; r++) {
            Unbonding storage u = _unbonding[msg.sender][Role(r)];
            if (u.amount != 0 && u.readyAt <= block.timestamp) {
                amount += u.amount;
                delete _unbonding[msg.sender][Role(r)];
            }
        }
        if (amount == 0) revert NothingToWithdraw();
        totalUnbonding -= amount;
        totalWithdrawn += amount;
        emit Withdrawn(msg.sender, amount);
        open.safeTransfer(msg.sender, amount);
    }

    /// @notice Slashes up to `amount` of `account`'s `role` OPEN, from its stake first and then from
    ///         its unbonding bucket, and sends it to `recipient`. Only governance or a slasher.
    /// @param account The staker at fault.
    /// @param role The role whose stake is slashed.
    /// @param amount Wei of OPEN to slash (capped at what the account has in that role).
    /// @param recipient Receives the slashed OPEN.
    /// @return slashed The amount actually slashed.
    function slash(address account, Role role, uint256 amount, address recipient)
        external
        nonReentrant
        updateReward(account)
        returns (uint256 slashed)
    {
        if (msg.sender != governance && !isSlasher[msg.sender]) revert Unauthorized();
        if (recipient == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        uint256 staked = _stakes[account][role];
        uint256 fromStake = Math.min(amount, staked);
        if (fromStake != 0) {
            _stakes[account][role] = staked - fromStake;
            totalStaked -= fromStake;
        }
        uint256 fromUnbonding;
        if (amount > fromStake) {
            Unbonding storage u = _unbonding[account][role];
            fromUnbonding = Math.min(amount - fromStake, u.amount);
            if (fromUnbonding != 0) {
                // forge-lint: disable-next-line(unsafe-typecast)
                u.amount -= uint128(fromUnbonding); // fromUnbonding <= u.amount, a uint128
                totalUnbonding -= fromUnbonding;
            }
        }
        slashed = fromStake + fromUnbonding;
        totalSlashed += slashed;
        emit Slashed(account, role, slashed, recipient);
        if (slashed != 0) open.safeTransfer(recipient, slashed);
    }

    /// @notice Allows `slasher` to slash (the RewardDistributor, for voided roots). Governance may
    ///         call it any time; the deployer may call it once, before handing over.
    /// @param slasher The address to allow.
    function setSlasher(address slasher) external {
        if (msg.sender != governance) {
            if (msg.sender != deployer || deployerSlasherSet) revert Unauthorized();
            deployerSlasherSet = true;
        }
        if (slasher == address(0)) revert ZeroAddress();
        isSlasher[slasher] = true;
        emit SlasherSet(slasher, true);
    }

    /// @notice Withdraws a slasher's right. Only governance.
    /// @param slasher The address to disallow.
    function revokeSlasher(address slasher) external {
        if (msg.sender != governance) revert Unauthorized();
        isSlasher[slasher] = false;
        emit SlasherSet(slasher, false);
    }

    /// @notice Pulls `amount` OPEN from the caller (needs an allowance) and shares it among all
    ///         staked OPEN pro rata. If nothing is staked, it goes to the treasury instead.
    /// @param amount Wei of OPEN.
    function notifyReward(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 total = totalStaked;
        if (total == 0) {
            emit RewardNotified(msg.sender, amount, true);
            open.safeTransferFrom(msg.sender, params.treasury(), amount);
            return;
        }
        rewardPerTokenStored += Math.mulDiv(amount, PRECISION, total);
        rewardReserve += amount;
        emit RewardNotified(msg.sender, amount, false);
        open.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Pays the caller its accumulated share of stakers' fees.
    /// @return amount Wei of OPEN paid.
    function claimRewards() external nonReentrant updateReward(msg.sender) returns (uint256 amount) {
        amount = _rewards[msg.sender];
        if (amount == 0) revert NothingToClaim();
        _rewards[msg.sender] = 0;
        rewardReserve -= amount;
        emit RewardClaimed(msg.sender, amount);
        open.safeTransfer(msg.sender, amount);
    }

    /// @notice Fees `account` can claim now.
    /// @param account The staker.
    /// @return Wei of OPEN.
    function earned(address account) public view returns (uint256) {
        return _rewards[account]
            + Math.mulDiv(_stakedTotal(account), rewardPerTokenStored - _rewardPerTokenPaid[account], PRECISION);
    }

    /// @notice OPEN `account` has staked for `role` (unbonding excluded).
    /// @param account The staker.
    /// @param role Operator or Settler.
    /// @return Wei of OPEN.
    function stakeOf(address account, Role role) external view returns (uint256) {
        return _stakes[account][role];
    }

    /// @notice Whether `account` has a nonzero stake of at least the role's minimum.
    /// @param account The staker.
    /// @param role Operator or Settler.
    /// @return True if active.
    function isActive(address account, Role role) external view returns (bool) {
        uint256 s = _stakes[account][role];
        if (s == 0) return false;
        ProtocolParams.Params memory p = params.params();
        return s >= (role == Role.Operator ? p.minOperatorStake : p.minSettlerStake);
    }

    /// @notice The unbonding bucket of `account` for `role`.
    /// @param account The staker.
    /// @param role Operator or Settler.
    /// @return amount Wei of OPEN unbonding.
    /// @return readyAt When it can be withdrawn.
    function unbondingOf(address account, Role role) external view returns (uint256 amount, uint64 readyAt) {
        Unbonding storage u = _unbonding[account][role];
        return (u.amount, u.readyAt);
    }

    function _stakedTotal(address account) internal view returns (uint256) {
        return _stakes[account][Role.Operator] + _stakes[account][Role.Settler];
    }

    function _updateReward(address account) internal {
        _rewards[account] = earned(account);
        _rewardPerTokenPaid[account] = rewardPerTokenStored;
    }
}
