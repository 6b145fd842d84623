// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "../utils/Test.sol";
import {Fixture} from "../utils/Fixture.sol";
import {OpenToken} from "../../src/OpenToken.sol";
import {InferenceEscrow} from "../../src/InferenceEscrow.sol";
import {Staking} from "../../src/Staking.sol";

contract EscrowHandler is Test {
    OpenToken internal open;
    InferenceEscrow internal escrow;
    address internal operator;
    uint256 internal modelId;
    uint256[] internal keys;
    address[] public consumers;

    uint256 public ghostDeposited;
    uint256 public ghostRedeemed;
    uint256 public ghostWithdrawn;
    uint256 public ghostOverspend; // successful redeems beyond a balance (must stay 0)
    mapping(address => uint256) public cumulative; // newest signed running total per consumer

    constructor(OpenToken open_, InferenceEscrow escrow_, address operator_, uint256 modelId_, uint256[] memory keys_) {
        open = open_;
        escrow = escrow_;
        operator = operator_;
        modelId = modelId_;
        keys = keys_;
        for (uint256 i = 0; i < keys_.length; i++) {
            consumers.push(vm.addr(keys_[i]));
        }
    }

    function _pick(uint256 seed) internal view returns (address who, uint256 key) {
        uint256 i = seed % keys.length;
        return (consumers[i], keys[i]);
    }

    function deposit(uint256 seed, uint256 amount) external {
        (address c,) = _pick(seed);
        uint256 bal = open.balanceOf(c);
        if (bal == 0) return;
        amount = bound(amount, 1, bal);
        vm.startPrank(c);
        open.approve(address(escrow), amount);
        escrow.deposit(amount);
        vm.stopPrank();
        ghostDeposited += amount;
    }

    function requestWithdrawal(uint256 seed, uint256 amount) external {
        (address c,) = _pick(seed);
        amount = bound(amount, 1, 2 * escrow.balanceOf(c) + 1);
        vm.prank(c);
        escrow.requestWithdrawal(amount);
    }

    function withdraw(uint256 seed) external {
        (address c,) = _pick(seed);
        vm.prank(c);
        try escrow.withdraw() returns (uint256 paid) {
            ghostWithdrawn += paid;
        } catch {}
    }

    /// Redeems a fresh voucher raising the running total by `step` (possibly beyond the balance),
    /// and sometimes replays the previous one.
    function redeem(uint256 seed, uint256 step, uint256 platformPart, bool replay) external {
        (address c, uint256 key) = _pick(seed);
        uint256 prev = escrow.redeemed(c, operator, modelId);
        uint256 prevPlatform = escrow.redeemedPlatform(c, operator, modelId);
        uint256 balance = escrow.balanceOf(c);
        step = bound(step, 0, balance + 10e18);
        uint256 platform = bound(platformPart, 0, step);
        InferenceEscrow.Voucher memory v = InferenceEscrow.Voucher({
            consumer: c,
            operator: operator,
            modelId: modelId,
            cumulativeAmount: replay ? prev : prev + step,
            cumulativePlatformFee: replay ? prevPlatform : prevPlatform + platform,
            deadline: block.timestamp + 1 hours
        });
        (uint8 sv, bytes32 r, bytes32 s) = vm.sign(key, escrow.hashVoucher(v));
        vm.prank(operator);
        try escrow.redeem(v, abi.encodePacked(r, s, sv)) {
            uint256 delta = v.cumulativeAmount - prev;
            if (delta > balance || delta == 0) ghostOverspend++;
            ghostRedeemed += delta;
            cumulative[c] = v.cumulativeAmount;
        } catch {}
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 1, 2 days));
    }

    function consumerCount() external view returns (uint256) {
        return consumers.length;
    }
}

/// Invariant: escrow token balance + redeemed + withdrawn == deposits; balances are backed; no
/// voucher ever spends more than the consumer's balance or redeems the same total twice.
contract EscrowInvariantTest is Fixture {
    EscrowHandler internal handler;
    uint256 internal modelId;

    function setUp() public {
        vm.warp(1_000_000);
        deployProtocol(gov);
        stakeAs(operator, Staking.Role.Operator, 1_000e18);
        stakeAs(bob, Staking.Role.Operator, 500e18); // a second staker shares the stakers' fees
        modelId = registerModelFixture();
        uint256[] memory keys = new uint256[](3);
        for (uint256 i = 0; i < keys.length; i++) {
            keys[i] = uint256(keccak256(abi.encode("consumer", i)));
            fundOpen(vm.addr(keys[i]), 1_000e18);
        }
        handler = new EscrowHandler(open, escrow, operator, modelId, keys);
        targetContract(address(handler));
    }

    function invariant_escrowConservation() public view {
        assertEq(
            open.balanceOf(address(escrow)) + escrow.totalRedeemed() + escrow.totalWithdrawn(),
            escrow.totalDeposited(),
            "escrow balance + redeemed + withdrawn == deposits"
        );
        assertEq(escrow.totalDeposited(), handler.ghostDeposited(), "deposits match ghost");
        assertEq(escrow.totalRedeemed(), handler.ghostRedeemed(), "redeemed matches ghost");
        assertEq(escrow.totalWithdrawn(), handler.ghostWithdrawn(), "withdrawn matches ghost");
        uint256 sum;
        for (uint256 i = 0; i < handler.consumerCount(); i++) {
            sum += escrow.balanceOf(handler.consumers(i));
        }
        assertEq(sum, open.balanceOf(address(escrow)), "consumer balances are fully backed");
    }

    function invariant_noOverspendOrReplay() public view {
        assertEq(handler.ghostOverspend(), 0, "a redeem spent beyond the balance or replayed");
        for (uint256 i = 0; i < handler.consumerCount(); i++) {
            address c = handler.consumers(i);
            assertEq(escrow.redeemed(c, operator, modelId), handler.cumulative(c), "running total");
        }
    }
}
