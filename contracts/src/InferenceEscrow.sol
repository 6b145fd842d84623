// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ProtocolParams} from "./ProtocolParams.sol";
import {Staking} from "./Staking.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {RewardDistributor} from "./RewardDistributor.sol";

/// @title InferenceEscrow
/// @notice Consumers prepay inference in OPEN. For each (consumer, operator, model) the consumer
///         signs EIP-712 vouchers carrying a running total; the operator (an active Operator staker)
///         redeems the newest one and receives nothing itself: the difference to what was already
///         redeemed is split into the platform fee (treasury), the model owner's share, the stakers'
///         share (Staking) and the contributors' share (RewardDistributor, current epoch).
///         Replays and overspends are impossible: totals only grow and never exceed the deposit.
///         Consumers withdraw unspent OPEN after a notice period, during which redeems still work.
/// @dev Accounting identity: OPEN held + totalRedeemed + totalWithdrawn == totalDeposited.
contract InferenceEscrow is EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice A consumer's signed authorisation of a running total of spend.
    struct Voucher {
        address consumer;
        address operator;
        uint256 modelId;
        uint256 cumulativeAmount;
        uint256 cumulativePlatformFee;
        uint256 deadline;
    }

    /// @notice A pending withdrawal request.
    struct Withdrawal {
        uint128 amount;
        uint64 readyAt;
    }

    /// @notice The EIP-712 type hash of `Voucher`.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(address consumer,address operator,uint256 modelId,uint256 cumulativeAmount,uint256 cumulativePlatformFee,uint256 deadline)"
    );

    /// @notice The OPEN token.
    IERC20 public immutable open;
    /// @notice The governed parameters (shares, treasury, withdrawal notice).
    ProtocolParams public immutable params;
    /// @notice Staking (operator checks; receives the stakers' share).
    Staking public immutable staking;
    /// @notice ModelRegistry (model owners).
    ModelRegistry public immutable models;
    /// @notice RewardDistributor (receives the contributors' share).
    RewardDistributor public immutable rewards;

    mapping(address consumer => uint256) internal _balances;
    mapping(address consumer => Withdrawal) internal _withdrawals;
    mapping(address consumer => mapping(address operator => mapping(uint256 modelId => uint256))) internal
        _redeemed;
    mapping(address consumer => mapping(address operator => mapping(uint256 modelId => uint256))) internal
        _redeemedPlatform;

    /// @notice OPEN ever deposited.
    uint256 public totalDeposited;
    /// @notice OPEN ever redeemed (paid out as fees).
    uint256 public totalRedeemed;
    /// @notice OPEN ever withdrawn by consumers.
    uint256 public totalWithdrawn;

    /// @notice `consumer` deposited `amount` OPEN.
    event Deposited(address indexed consumer, uint256 amount);
    /// @notice `consumer` asked to withdraw `amount` OPEN, possible from `readyAt`.
    event WithdrawalRequested(address indexed consumer, uint256 amount, uint64 readyAt);
    /// @notice `consumer` withdrew `amount` OPEN.
    event Withdrawn(address indexed consumer, uint256 amount);
    /// @notice A voucher was redeemed: `amount` OPEN left `consumer`'s balance, split as shown.
    event Redeemed(
        address indexed consumer,
        address indexed operator,
        uint256 indexed modelId,
        uint256 amount,
        uint256 platformFee,
        uint256 ownerShare,
        uint256 stakersShare,
        uint256 contributorsShare
    );

    /// @notice An amount was zero.
    error ZeroAmount();
    /// @notice The voucher's deadline has passed.
    error VoucherExpired();
    /// @notice The signature is not the consumer's.
    error InvalidSignature();
    /// @notice The voucher's total is not above what was already redeemed.
    error NothingToRedeem();
    /// @notice The consumer's balance `available` is below `needed`.
    error InsufficientBalance(uint256 available, uint256 needed);
    /// @notice `operator` is not an active Operator staker.
    error OperatorNotStaked(address operator);
    /// @notice Only the voucher's operator may redeem it.
    error NotOperator();
    /// @notice The withdrawal can be executed from `readyAt`.
    error WithdrawalNotReady(uint256 readyAt);
    /// @notice No withdrawal was requested.
    error NoWithdrawalRequested();
    /// @notice The voucher's platform total decreases or its increase exceeds the amount's.
    error InvalidPlatformFee();
    /// @notice A required address was zero.
    error ZeroAddress();

    /// @param open_ The OPEN token.
    /// @param params_ The governed parameters.
    /// @param staking_ Staking.
    /// @param models_ ModelRegistry.
    /// @param rewards_ RewardDistributor.
    constructor(
        IERC20 open_,
        ProtocolParams params_,
        Staking staking_,
        ModelRegistry models_,
        RewardDistributor rewards_
    ) EIP712("OpenLedger InferenceEscrow", "1") {
        if (
            address(open_) == address(0) || address(params_) == address(0) || address(staking_) == address(0)
                || address(models_) == address(0) || address(rewards_) == address(0)
        ) revert ZeroAddress();
        open = open_;
        params = params_;
        staking = staking_;
        models = models_;
        rewards = rewards_;
        // Staking and RewardDistributor pull exactly what this contract notifies/funds, in the
        // same call; a standing allowance saves two approvals per redeem.
        open_.forceApprove(address(staking_), type(uint256).max);
        open_.forceApprove(address(rewards_), type(uint256).max);
    }

    /// @notice Deposits `amount` OPEN to the caller's balance (needs an allowance).
    /// @param amount Wei of OPEN.
    function deposit(uint256 amount) external nonReentrant {
        _deposit(amount);
    }

    /// @notice Deposits with an EIP-2612 permit instead of a prior approval. A permit already used
    ///         (e.g. front-run) is ignored if the allowance suffices.
    /// @param amount Wei of OPEN.
    /// @param deadline Permit deadline.
    /// @param v Signature v.
    /// @param r Signature r.
    /// @param s Signature s.
    function depositWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        try IERC20Permit(address(open)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _deposit(amount);
    }

    /// @notice Unspent OPEN of `consumer`.
    /// @param consumer The consumer.
    /// @return Wei of OPEN.
    function balanceOf(address consumer) external view returns (uint256) {
        return _balances[consumer];
    }

    /// @notice Asks to withdraw `amount`; executable after `withdrawNotice` seconds. Replaces any
    ///         earlier request. Redeems remain possible meanwhile.
    /// @param amount Wei of OPEN (paid up to the balance left at withdrawal time).
    function requestWithdrawal(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint64 readyAt = uint64(block.timestamp) + params.params().withdrawNotice;
        _withdrawals[msg.sender] = Withdrawal({amount: uint128(amount > type(uint128).max ? type(uint128).max : amount), readyAt: readyAt});
        emit WithdrawalRequested(msg.sender, amount, readyAt);
    }

    /// @notice Executes the caller's matured withdrawal: pays min(requested, balance).
    /// @return amount Wei of OPEN paid.
    function withdraw() external nonReentrant returns (uint256 amount) {
        Withdrawal memory w = _withdrawals[msg.sender];
        if (w.amount == 0) revert NoWithdrawalRequested();
        if (block.timestamp < w.readyAt) revert WithdrawalNotReady(w.readyAt);
        uint256 balance = _balances[msg.sender];
        amount = w.amount < balance ? w.amount : balance;
        delete _withdrawals[msg.sender];
        _balances[msg.sender] = balance - amount;
        totalWithdrawn += amount;
        emit Withdrawn(msg.sender, amount);
        if (amount != 0) open.safeTransfer(msg.sender, amount);
    }

    /// @notice The caller's pending withdrawal request.
    /// @param consumer The consumer.
    /// @return amount Requested wei of OPEN (0 if none).
    /// @return readyAt When it can be executed.
    function pendingWithdrawal(address consumer) external view returns (uint256 amount, uint64 readyAt) {
        Withdrawal memory w = _withdrawals[consumer];
        return (w.amount, w.readyAt);
    }

    /// @notice Redeems a voucher: charges the consumer the increase of the running total and splits
    ///         it (platform fee to the treasury; the net by the current shares to the model owner,
    ///         Staking and the RewardDistributor). Only the voucher's operator, an active Operator.
    /// @param v The voucher.
    /// @param signature The consumer's EIP-712 signature (EOA or ERC-1271 contract wallet).
    function redeem(Voucher calldata v, bytes calldata signature) external nonReentrant {
        if (msg.sender != v.operator) revert NotOperator();
        if (block.timestamp > v.deadline) revert VoucherExpired();
        if (!staking.isActive(msg.sender, Staking.Role.Operator)) revert OperatorNotStaked(msg.sender);
        if (!SignatureChecker.isValidSignatureNow(v.consumer, hashVoucher(v), signature)) {
            revert InvalidSignature();
        }
        uint256 done = _redeemed[v.consumer][msg.sender][v.modelId];
        if (v.cumulativeAmount <= done) revert NothingToRedeem();
        uint256 delta = v.cumulativeAmount - done;
        uint256 donePlatform = _redeemedPlatform[v.consumer][msg.sender][v.modelId];
        if (v.cumulativePlatformFee < donePlatform) revert InvalidPlatformFee();
        uint256 platformFee = v.cumulativePlatformFee - donePlatform;
        if (platformFee > delta) revert InvalidPlatformFee();
        uint256 balance = _balances[v.consumer];
        if (delta > balance) revert InsufficientBalance(balance, delta);
        address modelOwner = models.ownerOf(v.modelId);
        ProtocolParams.Params memory p = params.params();

        // effects
        _balances[v.consumer] = balance - delta;
        _redeemed[v.consumer][msg.sender][v.modelId] = v.cumulativeAmount;
        _redeemedPlatform[v.consumer][msg.sender][v.modelId] = v.cumulativePlatformFee;
        totalRedeemed += delta;
        uint256 net = delta - platformFee;
        uint256 ownerShare = (net * p.ownerBps) / 10_000;
        uint256 stakersShare = (net * p.stakersBps) / 10_000;
        uint256 contributorsShare = net - ownerShare - stakersShare;
        emit Redeemed(
            v.consumer, msg.sender, v.modelId, delta, platformFee, ownerShare, stakersShare, contributorsShare
        );

        // interactions
        if (platformFee != 0) open.safeTransfer(p.treasury, platformFee);
        if (ownerShare != 0) open.safeTransfer(modelOwner, ownerShare);
        if (stakersShare != 0) staking.notifyReward(stakersShare);
        if (contributorsShare != 0) rewards.fund(contributorsShare);
    }

    /// @notice What has been redeemed so far for (consumer, operator, modelId).
    /// @param consumer The consumer.
    /// @param operator The operator.
    /// @param modelId The model.
    /// @return Wei of OPEN (the last redeemed voucher's running total).
    function redeemed(address consumer, address operator, uint256 modelId) external view returns (uint256) {
        return _redeemed[consumer][operator][modelId];
    }

    /// @notice The platform-fee part of `redeemed(consumer, operator, modelId)`.
    /// @param consumer The consumer.
    /// @param operator The operator.
    /// @param modelId The model.
    /// @return Wei of OPEN.
    function redeemedPlatform(address consumer, address operator, uint256 modelId)
        external
        view
        returns (uint256)
    {
        return _redeemedPlatform[consumer][operator][modelId];
    }

    /// @notice The EIP-712 digest a consumer signs for `v`.
    /// @param v The voucher.
    /// @return The digest.
    function hashVoucher(Voucher calldata v) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    VOUCHER_TYPEHASH,
                    v.consumer,
                    v.operator,
                    v.modelId,
                    v.cumulativeAmount,
                    v.cumulativePlatformFee,
                    v.deadline
                )
            )
        );
    }

    function _deposit(uint256 amount) internal {
        if (amount == 0) revert ZeroAmount();
        _balances[msg.sender] += amount;
        totalDeposited += amount;
        emit Deposited(msg.sender, amount);
        open.safeTransferFrom(msg.sender, address(this), amount);
    }
}
