// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {Staking} from "../src/Staking.sol";
import {ProtocolParams} from "../src/ProtocolParams.sol";

contract StakingTest is Fixture {
    Staking.Role internal constant OP = Staking.Role.Operator;
    Staking.Role internal constant SET = Staking.Role.Settler;

    event Staked(address indexed account, Staking.Role indexed role, uint256 amount);
    event UnstakeStarted(address indexed account, Staking.Role indexed role, uint256 amount, uint64 readyAt);
    event Withdrawn(address indexed account, uint256 amount);
    event Slashed(address indexed account, Staking.Role indexed role, uint256 amount, address indexed recipient);
    event RewardNotified(address indexed from, uint256 amount, bool toTreasury);
    event RewardClaimed(address indexed account, uint256 amount);
    event SlasherSet(address indexed slasher, bool allowed);

    function setUp() public {
        vm.warp(1_000_000);
        deployProtocol(gov);
    }

    function _notify(uint256 amount) internal {
        fundOpen(carol, amount);
        vm.startPrank(carol);
        open.approve(address(staking), amount);
        staking.notifyReward(amount);
        vm.stopPrank();
    }

    function _checkIdentity() internal view {
        assertEq(
            staking.totalStaked() + staking.totalUnbonding() + staking.totalWithdrawn() + staking.totalSlashed(),
            staking.totalDeposited(),
            "staked + unbonding + withdrawn + slashed == deposited"
        );
    }

    function test_constructorRejectsZero() public {
        vm.expectRevert(Staking.ZeroAddress.selector);
        new Staking(open, params, address(0));
        vm.expectRevert(Staking.ZeroAddress.selector);
        new Staking(open, ProtocolParams(address(0)), gov);
    }

    function test_stake() public {
        fundOpen(alice, 2_000e18);
        vm.startPrank(alice);
        open.approve(address(staking), 2_000e18);
        vm.expectEmit(address(staking));
        emit Staked(alice, OP, 1_500e18);
        staking.stake(OP, 1_500e18);
        staking.stake(SET, 500e18);
        vm.stopPrank();
        assertEq(staking.stakeOf(alice, OP), 1_500e18);
        assertEq(staking.stakeOf(alice, SET), 500e18);
        assertEq(staking.totalStaked(), 2_000e18);
        assertEq(staking.totalDeposited(), 2_000e18);
        assertEq(open.balanceOf(address(staking)), 2_000e18);
        _checkIdentity();
    }

    function test_revert_stakeZero() public {
        vm.prank(alice);
        vm.expectRevert(Staking.ZeroAmount.selector);
        staking.stake(OP, 0);
    }

    function test_revert_stakeWithoutAllowance() public {
        fundOpen(alice, 1e18);
        vm.prank(alice);
        vm.expectRevert();
        staking.stake(OP, 1e18);
    }

    function test_isActiveNeedsMinimum() public {
        assertFalse(staking.isActive(alice, OP));
        stakeAs(alice, OP, 999e18);
        assertFalse(staking.isActive(alice, OP));
        stakeAs(alice, OP, 1e18);
        assertTrue(staking.isActive(alice, OP));
        assertFalse(staking.isActive(alice, SET), "roles are separate");
    }

    function test_isActiveWithZeroMinimumStillNeedsStake() public {
        ProtocolParams.Params memory p = defaultParams(treasury);
        p.minOperatorStake = 0;
        vm.prank(gov);
        params.setParams(p);
        stakeAs(settler, SET, 1_000e18);
        vm.prank(settler);
        rewards.postRoot(1, bytes32(0), 0, ""); // next epoch: new params in force
        assertFalse(staking.isActive(alice, OP));
        stakeAs(alice, OP, 1);
        assertTrue(staking.isActive(alice, OP));
    }

    function test_unstakeStartsUnbonding() public {
        stakeAs(alice, OP, 1_000e18);
        uint64 readyAt = uint64(block.timestamp + 7 days);
        vm.expectEmit(address(staking));
        emit UnstakeStarted(alice, OP, 400e18, readyAt);
        vm.prank(alice);
        staking.unstake(OP, 400e18);
        assertEq(staking.stakeOf(alice, OP), 600e18);
        (uint256 amount, uint64 at) = staking.unbondingOf(alice, OP);
        assertEq(amount, 400e18);
        assertEq(uint256(at), uint256(readyAt));
        assertEq(staking.totalUnbonding(), 400e18);
        assertFalse(staking.isActive(alice, OP), "600 < minimum");
        _checkIdentity();
    }

    function test_revert_unstake() public {
        stakeAs(alice, OP, 10e18);
        vm.startPrank(alice);
        vm.expectRevert(Staking.ZeroAmount.selector);
        staking.unstake(OP, 0);
        vm.expectRevert(abi.encodeWithSelector(Staking.InsufficientStake.selector, 10e18, 11e18));
        staking.unstake(OP, 11e18);
        vm.expectRevert(abi.encodeWithSelector(Staking.InsufficientStake.selector, 0, 1e18));
        staking.unstake(SET, 1e18);
        vm.stopPrank();
    }

    function test_withdrawAfterUnbonding() public {
        stakeAs(alice, OP, 10e18);
        vm.prank(alice);
        staking.unstake(OP, 4e18);
        vm.prank(alice);
        vm.expectRevert(Staking.NothingToWithdraw.selector);
        staking.withdraw();
        vm.warp(block.timestamp + 7 days);
        vm.expectEmit(address(staking));
        emit Withdrawn(alice, 4e18);
        vm.prank(alice);
        staking.withdraw();
        assertEq(open.balanceOf(alice), 4e18);
        assertEq(staking.totalWithdrawn(), 4e18);
        assertEq(staking.totalUnbonding(), 0);
        vm.prank(alice);
        vm.expectRevert(Staking.NothingToWithdraw.selector);
        staking.withdraw();
        _checkIdentity();
    }

    function test_newUnstakeRestartsTimer() public {
        stakeAs(alice, OP, 10e18);
        vm.prank(alice);
        staking.unstake(OP, 4e18);
        vm.warp(block.timestamp + 6 days);
        vm.prank(alice);
        staking.unstake(OP, 1e18);
        vm.warp(block.timestamp + 2 days);
        vm.prank(alice);
        vm.expectRevert(Staking.NothingToWithdraw.selector);
        staking.withdraw();
        vm.warp(block.timestamp + 5 days);
        vm.prank(alice);
        staking.withdraw();
        assertEq(open.balanceOf(alice), 5e18);
    }

    function test_withdrawBothRoles() public {
        stakeAs(alice, OP, 10e18);
        stakeAs(alice, SET, 5e18);
        vm.startPrank(alice);
        staking.unstake(OP, 10e18);
        staking.unstake(SET, 5e18);
        vm.warp(block.timestamp + 7 days);
        staking.withdraw();
        vm.stopPrank();
        assertEq(open.balanceOf(alice), 15e18);
    }

    function test_slashTakesStakeThenUnbonding() public {
        stakeAs(alice, SET, 100e18);
        vm.prank(alice);
        staking.unstake(SET, 30e18);
        vm.expectEmit(address(staking));
        emit Slashed(alice, SET, 90e18, treasury);
        vm.prank(gov);
        uint256 slashed = staking.slash(alice, SET, 90e18, treasury);
        assertEq(slashed, 90e18);
        assertEq(staking.stakeOf(alice, SET), 0);
        (uint256 unbonding,) = staking.unbondingOf(alice, SET);
        assertEq(unbonding, 10e18);
        assertEq(staking.totalSlashed(), 90e18);
        assertEq(open.balanceOf(treasury), SUPPLY - 100e18 + 90e18);
        _checkIdentity();
    }

    function test_slashIsCappedAtHoldings() public {
        stakeAs(alice, SET, 100e18);
        vm.prank(gov);
        uint256 slashed = staking.slash(alice, SET, 1_000e18, bob);
        assertEq(slashed, 100e18);
        assertEq(open.balanceOf(bob), 100e18);
        vm.prank(gov);
        assertEq(staking.slash(alice, OP, 1, bob), 0, "other role untouched");
        _checkIdentity();
    }

    function test_revert_slash() public {
        stakeAs(alice, SET, 100e18);
        vm.prank(alice);
        vm.expectRevert(Staking.Unauthorized.selector);
        staking.slash(alice, SET, 1e18, alice);
        vm.startPrank(gov);
        vm.expectRevert(Staking.ZeroAddress.selector);
        staking.slash(alice, SET, 1e18, address(0));
        vm.expectRevert(Staking.ZeroAmount.selector);
        staking.slash(alice, SET, 0, treasury);
        vm.stopPrank();
    }

    function test_slashers() public {
        assertTrue(staking.isSlasher(address(rewards)), "fixture set the distributor");
        assertTrue(staking.deployerSlasherSet());
        vm.expectRevert(Staking.Unauthorized.selector);
        staking.setSlasher(alice); // deployer's one use is spent
        vm.prank(alice);
        vm.expectRevert(Staking.Unauthorized.selector);
        staking.setSlasher(alice);
        vm.prank(gov);
        vm.expectRevert(Staking.ZeroAddress.selector);
        staking.setSlasher(address(0));
        vm.expectEmit(address(staking));
        emit SlasherSet(alice, true);
        vm.prank(gov);
        staking.setSlasher(alice);
        stakeAs(bob, OP, 10e18);
        vm.prank(alice);
        staking.slash(bob, OP, 1e18, treasury);
        vm.prank(alice);
        vm.expectRevert(Staking.Unauthorized.selector);
        staking.revokeSlasher(alice);
        vm.expectEmit(address(staking));
        emit SlasherSet(alice, false);
        vm.prank(gov);
        staking.revokeSlasher(alice);
        vm.prank(alice);
        vm.expectRevert(Staking.Unauthorized.selector);
        staking.slash(bob, OP, 1e18, treasury);
    }

    function test_rewardsProRataAcrossRoles() public {
        stakeAs(alice, OP, 300e18);
        stakeAs(bob, SET, 100e18);
        fundOpen(carol, 40e18);
        vm.startPrank(carol);
        open.approve(address(staking), 40e18);
        vm.expectEmit(address(staking));
        emit RewardNotified(carol, 40e18, false);
        staking.notifyReward(40e18);
        vm.stopPrank();
        assertEq(staking.earned(alice), 30e18);
        assertEq(staking.earned(bob), 10e18);
        vm.expectEmit(address(staking));
        emit RewardClaimed(alice, 30e18);
        vm.prank(alice);
        assertEq(staking.claimRewards(), 30e18);
        assertEq(open.balanceOf(alice), 30e18);
        assertEq(staking.earned(alice), 0);
        vm.prank(alice);
        vm.expectRevert(Staking.NothingToClaim.selector);
        staking.claimRewards();
    }

    function test_unbondingEarnsNothing() public {
        stakeAs(alice, OP, 100e18);
        stakeAs(bob, OP, 100e18);
        vm.prank(alice);
        staking.unstake(OP, 100e18);
        _notify(10e18);
        assertEq(staking.earned(alice), 0);
        assertEq(staking.earned(bob), 10e18);
    }

    function test_rewardsSurviveSlash() public {
        stakeAs(alice, SET, 100e18);
        _notify(10e18);
        vm.prank(gov);
        staking.slash(alice, SET, 100e18, treasury);
        assertEq(staking.earned(alice), 10e18);
        _notify(5e18); // nothing staked now: to the treasury
        assertEq(staking.earned(alice), 10e18);
    }

    function test_notifyWithoutStakersGoesToTreasury() public {
        uint256 before = open.balanceOf(treasury);
        fundOpen(carol, 7e18);
        vm.startPrank(carol);
        open.approve(address(staking), 7e18);
        vm.expectEmit(address(staking));
        emit RewardNotified(carol, 7e18, true);
        staking.notifyReward(7e18);
        vm.stopPrank();
        assertEq(open.balanceOf(treasury), before);
        assertEq(staking.rewardReserve(), 0);
    }

    function test_revert_notifyZero() public {
        vm.expectRevert(Staking.ZeroAmount.selector);
        staking.notifyReward(0);
    }

    function testFuzz_rewardSplitNeverExceedsNotified(uint96 a, uint96 b, uint96 r1, uint96 r2) public {
        uint256 sa = bound(a, 1, 1e27 / 4);
        uint256 sb = bound(b, 1, 1e27 / 4);
        uint256 n1 = bound(r1, 1, 1e27 / 8);
        uint256 n2 = bound(r2, 1, 1e27 / 8);
        stakeAs(alice, OP, sa);
        _notify(n1);
        stakeAs(bob, SET, sb);
        _notify(n2);
        uint256 ea = staking.earned(alice);
        uint256 eb = staking.earned(bob);
        assertLe(ea + eb, n1 + n2, "no more than notified");
        // each gets its exact share up to rounding of the 1e18-scaled accumulator
        uint256 expA = n1 + (n2 * sa) / (sa + sb);
        assertApproxEqAbs(ea, expA, 3 + (2 * sa) / 1e18, "alice's share");
        assertLe(ea + eb, staking.rewardReserve());
    }

    function testFuzz_stakeUnstakeWithdraw(uint96 amount, uint96 out, uint32 wait) public {
        uint256 s = bound(amount, 1, 1e27);
        uint256 u = bound(out, 1, s);
        stakeAs(alice, OP, s);
        vm.prank(alice);
        staking.unstake(OP, u);
        vm.warp(block.timestamp + wait);
        vm.prank(alice);
        if (wait < 7 days) {
            vm.expectRevert(Staking.NothingToWithdraw.selector);
            staking.withdraw();
        } else {
            staking.withdraw();
            assertEq(open.balanceOf(alice), u);
        }
        _checkIdentity();
    }
}
