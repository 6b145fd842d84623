// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {InferenceEscrow} from "../src/InferenceEscrow.sol";
import {Staking} from "../src/Staking.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {ProtocolParams} from "../src/ProtocolParams.sol";
import {RewardDistributor} from "../src/RewardDistributor.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @dev A contract wallet (ERC-1271) that accepts signatures of its owner key.
contract Wallet1271 {
    address internal immutable signer;

    constructor(address signer_) {
        signer = signer_;
    }

    function isValidSignature(bytes32 hash, bytes calldata sig) external view returns (bytes4) {
        (bytes32 r, bytes32 s) = abi.decode(sig[:64], (bytes32, bytes32));
        uint8 v = uint8(sig[64]);
        return ecrecover(hash, v, r, s) == signer ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }

    function approveAndDeposit(IERC20 token, InferenceEscrow escrow, uint256 amount) external {
        token.approve(address(escrow), amount);
        escrow.deposit(amount);
    }
}

contract InferenceEscrowTest is Fixture {
    event Deposited(address indexed consumer, uint256 amount);
    event WithdrawalRequested(address indexed consumer, uint256 amount, uint64 readyAt);
    event Withdrawn(address indexed consumer, uint256 amount);
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

    address internal consumer;
    uint256 internal consumerKey;
    uint256 internal modelId;

    function setUp() public {
        vm.warp(1_000_000);
        deployProtocol(gov);
        (consumer, consumerKey) = makeAddrAndKey("consumer");
        stakeAs(operator, Staking.Role.Operator, 1_000e18);
        modelId = registerModelFixture();
        depositAs(consumer, 100e18);
    }

    function _voucher(uint256 cumulative, uint256 platform) internal view returns (InferenceEscrow.Voucher memory) {
        return InferenceEscrow.Voucher({
            consumer: consumer,
            operator: operator,
            modelId: modelId,
            cumulativeAmount: cumulative,
            cumulativePlatformFee: platform,
            deadline: block.timestamp + 1 hours
        });
    }

    function _redeem(InferenceEscrow.Voucher memory v) internal {
        bytes memory sig = signVoucher(consumerKey, v);
        vm.prank(v.operator);
        escrow.redeem(v, sig);
    }

    function _identity() internal view {
        assertEq(
            open.balanceOf(address(escrow)) + escrow.totalRedeemed() + escrow.totalWithdrawn(),
            escrow.totalDeposited(),
            "escrow balance + redeemed + withdrawn == deposits"
        );
    }

    function test_constructorRejectsZero() public {
        vm.expectRevert(InferenceEscrow.ZeroAddress.selector);
        new InferenceEscrow(open, params, staking, ModelRegistry(address(0)), rewards);
    }

    function test_deposit() public {
        fundOpen(alice, 5e18);
        vm.startPrank(alice);
        open.approve(address(escrow), 5e18);
        vm.expectEmit(address(escrow));
        emit Deposited(alice, 5e18);
        escrow.deposit(5e18);
        vm.stopPrank();
        assertEq(escrow.balanceOf(alice), 5e18);
        assertEq(escrow.totalDeposited(), 105e18);
        vm.prank(alice);
        vm.expectRevert(InferenceEscrow.ZeroAmount.selector);
        escrow.deposit(0);
        _identity();
    }

    function test_depositWithPermit() public {
        (address payer, uint256 key) = makeAddrAndKey("payer");
        fundOpen(payer, 9e18);
        bytes32 typehash =
            keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                open.DOMAIN_SEPARATOR(),
                keccak256(abi.encode(typehash, payer, address(escrow), 9e18, 0, block.timestamp))
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        vm.prank(payer);
        escrow.depositWithPermit(9e18, block.timestamp, v, r, s);
        assertEq(escrow.balanceOf(payer), 9e18);
        // a bad permit with no allowance fails in the transfer
        vm.prank(payer);
        vm.expectRevert();
        escrow.depositWithPermit(1, block.timestamp, v, r, s);
    }

    function test_redeemSplitsExactly() public {
        InferenceEscrow.Voucher memory v = _voucher(10e18, 1e18);
        uint256 treasuryBefore = open.balanceOf(treasury);
        // net 9e18: owner 30% = 2.7, stakers 10% = 0.9, contributors 4.5 + rounding rest = 5.4
        vm.expectEmit(address(escrow));
        emit Redeemed(consumer, operator, modelId, 10e18, 1e18, 2.7e18, 0.9e18, 5.4e18);
        _redeem(v);
        assertEq(escrow.balanceOf(consumer), 90e18);
        assertEq(escrow.redeemed(consumer, operator, modelId), 10e18);
        assertEq(escrow.redeemedPlatform(consumer, operator, modelId), 1e18);
        assertEq(open.balanceOf(treasury), treasuryBefore + 1e18);
        assertEq(open.balanceOf(modelOwner), 2.7e18);
        assertEq(staking.earned(operator), 0.9e18, "the only staker gets the stakers' share");
        assertEq(rewards.pool(1), 5.4e18);
        assertEq(open.balanceOf(address(rewards)), 5.4e18);
        _identity();
    }

    function test_cumulativeVouchers() public {
        _redeem(_voucher(10e18, 1e18));
        _redeem(_voucher(25e18, 2e18));
        assertEq(escrow.balanceOf(consumer), 75e18);
        assertEq(escrow.redeemed(consumer, operator, modelId), 25e18);
        assertEq(escrow.redeemedPlatform(consumer, operator, modelId), 2e18);
        assertEq(escrow.totalRedeemed(), 25e18);
        _identity();
    }

    function test_revert_replayAndOlderVoucher() public {
        InferenceEscrow.Voucher memory v1 = _voucher(10e18, 0);
        InferenceEscrow.Voucher memory v2 = _voucher(20e18, 0);
        bytes memory s1 = signVoucher(consumerKey, v1);
        _redeem(v2);
        vm.prank(operator);
        vm.expectRevert(InferenceEscrow.NothingToRedeem.selector);
        escrow.redeem(v1, s1);
        bytes memory s2 = signVoucher(consumerKey, v2);
        vm.prank(operator);
        vm.expectRevert(InferenceEscrow.NothingToRedeem.selector);
        escrow.redeem(v2, s2);
        assertEq(escrow.balanceOf(consumer), 80e18);
    }

    function test_revert_redeemChecks() public {
        InferenceEscrow.Voucher memory v = _voucher(10e18, 1e18);
        bytes memory sig = signVoucher(consumerKey, v);
        // only the voucher's operator
        vm.prank(alice);
        vm.expectRevert(InferenceEscrow.NotOperator.selector);
        escrow.redeem(v, sig);
        // forged: signed by someone else
        (, uint256 otherKey) = makeAddrAndKey("mallory");
        bytes memory forged = signVoucher(otherKey, v);
        vm.prank(operator);
        vm.expectRevert(InferenceEscrow.InvalidSignature.selector);
        escrow.redeem(v, forged);
        // tampered amount
        InferenceEscrow.Voucher memory tampered = _voucher(50e18, 1e18);
        vm.prank(operator);
        vm.expectRevert(InferenceEscrow.InvalidSignature.selector);
        escrow.redeem(tampered, sig);
        // garbage signature
        vm.prank(operator);
        vm.expectRevert(InferenceEscrow.InvalidSignature.selector);
        escrow.redeem(v, hex"1234");
        // expired
        vm.warp(v.deadline + 1);
        vm.prank(operator);
        vm.expectRevert(InferenceEscrow.VoucherExpired.selector);
        escrow.redeem(v, sig);
    }

    function test_deadlineIsInclusive() public {
        InferenceEscrow.Voucher memory v = _voucher(1e18, 0);
        bytes memory sig = signVoucher(consumerKey, v);
        vm.warp(v.deadline);
        vm.prank(operator);
        escrow.redeem(v, sig);
        assertEq(escrow.redeemed(consumer, operator, modelId), 1e18);
    }

    function test_revert_operatorNotStaked() public {
        InferenceEscrow.Voucher memory v = _voucher(10e18, 0);
        v.operator = bob;
        bytes memory sig = signVoucher(consumerKey, v);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.OperatorNotStaked.selector, bob));
        escrow.redeem(v, sig);
        stakeAs(bob, Staking.Role.Settler, 5_000e18);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.OperatorNotStaked.selector, bob));
        escrow.redeem(v, sig);
    }

    function test_revert_insufficientBalance() public {
        InferenceEscrow.Voucher memory v = _voucher(100e18 + 1, 0);
        bytes memory sig = signVoucher(consumerKey, v);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.InsufficientBalance.selector, 100e18, 100e18 + 1));
        escrow.redeem(v, sig);
    }

    function test_revert_invalidPlatformFee() public {
        InferenceEscrow.Voucher memory v = _voucher(10e18, 11e18);
        bytes memory sig = signVoucher(consumerKey, v);
        vm.prank(operator);
        vm.expectRevert(InferenceEscrow.InvalidPlatformFee.selector);
        escrow.redeem(v, sig);
        _redeem(_voucher(10e18, 5e18));
        v = _voucher(20e18, 4e18); // platform total went down
        sig = signVoucher(consumerKey, v);
        vm.prank(operator);
        vm.expectRevert(InferenceEscrow.InvalidPlatformFee.selector);
        escrow.redeem(v, sig);
    }

    function test_revert_unknownModel() public {
        InferenceEscrow.Voucher memory v = _voucher(10e18, 0);
        v.modelId = 99;
        bytes memory sig = signVoucher(consumerKey, v);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownModel.selector, 99));
        escrow.redeem(v, sig);
    }

    function test_vouchersAreScopedPerOperatorAndModel() public {
        stakeAs(bob, Staking.Role.Operator, 1_000e18);
        _redeem(_voucher(10e18, 0));
        InferenceEscrow.Voucher memory v = _voucher(10e18, 0);
        v.operator = bob;
        _redeem(v);
        assertEq(escrow.balanceOf(consumer), 80e18);
        assertEq(escrow.redeemed(consumer, bob, modelId), 10e18);
    }

    function test_withdrawAfterNotice() public {
        vm.prank(consumer);
        vm.expectRevert(InferenceEscrow.ZeroAmount.selector);
        escrow.requestWithdrawal(0);
        vm.prank(consumer);
        vm.expectRevert(InferenceEscrow.NoWithdrawalRequested.selector);
        escrow.withdraw();
        uint64 readyAt = uint64(block.timestamp + 1 days);
        vm.expectEmit(address(escrow));
        emit WithdrawalRequested(consumer, 40e18, readyAt);
        vm.prank(consumer);
        escrow.requestWithdrawal(40e18);
        (uint256 amt, uint64 at) = escrow.pendingWithdrawal(consumer);
        assertEq(amt, 40e18);
        assertEq(uint256(at), uint256(readyAt));
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.WithdrawalNotReady.selector, uint256(readyAt)));
        escrow.withdraw();
        // redeems remain possible during the notice
        _redeem(_voucher(70e18, 0));
        vm.warp(readyAt);
        vm.expectEmit(address(escrow));
        emit Withdrawn(consumer, 30e18);
        vm.prank(consumer);
        assertEq(escrow.withdraw(), 30e18, "min(requested, balance)");
        assertEq(open.balanceOf(consumer), 30e18);
        assertEq(escrow.balanceOf(consumer), 0);
        vm.prank(consumer);
        vm.expectRevert(InferenceEscrow.NoWithdrawalRequested.selector);
        escrow.withdraw();
        _identity();
    }

    function test_contractWalletConsumer() public {
        (address owner, uint256 key) = makeAddrAndKey("wallet-owner");
        Wallet1271 wallet = new Wallet1271(owner);
        fundOpen(address(wallet), 10e18);
        wallet.approveAndDeposit(open, escrow, 10e18);
        InferenceEscrow.Voucher memory v = _voucher(4e18, 0);
        v.consumer = address(wallet);
        bytes memory sig = signVoucher(key, v);
        vm.prank(operator);
        escrow.redeem(v, sig);
        assertEq(escrow.balanceOf(address(wallet)), 6e18);
    }

    function test_hashVoucherIsEip712() public view {
        InferenceEscrow.Voucher memory v = _voucher(10e18, 1e18);
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("OpenLedger InferenceEscrow"),
                keccak256("1"),
                block.chainid,
                address(escrow)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Voucher(address consumer,address operator,uint256 modelId,uint256 cumulativeAmount,uint256 cumulativePlatformFee,uint256 deadline)"
                ),
                v.consumer,
                v.operator,
                v.modelId,
                v.cumulativeAmount,
                v.cumulativePlatformFee,
                v.deadline
            )
        );
        assertEq(escrow.hashVoucher(v), keccak256(abi.encodePacked("\x19\x01", domain, structHash)));
    }

    function test_sharesFollowParamsOfCurrentEpoch() public {
        ProtocolParams.Params memory p = defaultParams(treasury);
        p.ownerBps = 0;
        p.stakersBps = 0;
        p.contributorsBps = 10_000;
        vm.prank(gov);
        params.setParams(p);
        _redeem(_voucher(10e18, 0));
        assertEq(open.balanceOf(modelOwner), 3e18, "old shares this epoch");
        stakeAs(settler, Staking.Role.Settler, 1_000e18);
        postAs(settler, bytes32(0), 0);
        _redeem(_voucher(20e18, 0));
        assertEq(open.balanceOf(modelOwner), 3e18, "new shares from the next epoch");
        assertEq(rewards.pool(2), 10e18);
    }

    function testFuzz_splitIsExact(uint96 amount, uint96 platform, uint16 ownerBps, uint16 stakersBps) public {
        uint256 a = bound(amount, 1, 100e18);
        uint256 pf = bound(platform, 0, a);
        uint16 ob = uint16(bound(ownerBps, 0, 10_000));
        uint16 sb = uint16(bound(stakersBps, 0, 10_000 - ob));
        ProtocolParams.Params memory p = defaultParams(treasury);
        p.ownerBps = ob;
        p.stakersBps = sb;
        p.contributorsBps = 10_000 - ob - sb;
        vm.prank(gov);
        params.setParams(p);
        stakeAs(settler, Staking.Role.Settler, 1_000e18);
        postAs(settler, bytes32(0), 0);
        uint256 tBefore = open.balanceOf(treasury);
        uint256 sBefore = open.balanceOf(address(staking));
        _redeem(_voucher(a, pf));
        uint256 toTreasury = open.balanceOf(treasury) - tBefore;
        uint256 toOwner = open.balanceOf(modelOwner);
        uint256 toStaking = open.balanceOf(address(staking)) - sBefore;
        uint256 toRewards = rewards.pool(2);
        assertEq(toTreasury + toOwner + toStaking + toRewards, a, "split sums to the redeemed amount");
        assertEq(toTreasury, pf);
        assertEq(toOwner, ((a - pf) * ob) / 10_000);
        assertEq(toStaking, ((a - pf) * sb) / 10_000);
        _identity();
    }

    function testFuzz_neverOverspends(uint96 c1, uint96 c2) public {
        uint256 x = bound(c1, 1, 200e18);
        uint256 y = bound(c2, 1, 200e18);
        InferenceEscrow.Voucher memory v1 = _voucher(x, 0);
        bytes memory s1 = signVoucher(consumerKey, v1);
        vm.prank(operator);
        if (x > 100e18) {
            vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.InsufficientBalance.selector, 100e18, x));
            escrow.redeem(v1, s1);
            x = 0;
        } else {
            escrow.redeem(v1, s1);
        }
        InferenceEscrow.Voucher memory v2 = _voucher(y, 0);
        bytes memory s2 = signVoucher(consumerKey, v2);
        vm.prank(operator);
        if (y <= x) {
            vm.expectRevert(InferenceEscrow.NothingToRedeem.selector);
            escrow.redeem(v2, s2);
        } else if (y - x > 100e18 - x) {
            vm.expectRevert();
            escrow.redeem(v2, s2);
        } else {
            escrow.redeem(v2, s2);
            x = y;
        }
        assertEq(escrow.balanceOf(consumer), 100e18 - x);
        assertLe(escrow.redeemed(consumer, operator, modelId), 100e18);
        _identity();
    }
}
