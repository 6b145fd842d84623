// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "../utils/Test.sol";
import {Fixture} from "../utils/Fixture.sol";
import {OpenToken} from "../../src/OpenToken.sol";
import {Staking} from "../../src/Staking.sol";

contract StakingHandler is Test {
    OpenToken internal open;
    Staking internal staking;
    address internal gov;
    address internal notifier;
    address[] public actors;

    uint256 public ghostDeposited;
    uint256 public ghostWithdrawn;
    uint256 public ghostSlashed;
    uint256 public ghostNotified;
    uint256 public ghostClaimed;

    constructor(OpenToken open_, Staking staking_, address gov_, address notifier_, address[] memory actors_) {
        open = open_;
        staking = staking_;
        gov = gov_;
        notifier = notifier_;
        actors = actors_;
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function _role(uint256 seed) internal pure returns (Staking.Role) {
        return seed % 2 == 0 ? Staking.Role.Operator : Staking.Role.Settler;
    }

    function stake(uint256 who, uint256 role, uint256 amount) external {
        address a = _actor(who);
        if (open.balanceOf(a) == 0) return;
        amount = bound(amount, 1, open.balanceOf(a));
        vm.startPrank(a);
        open.approve(address(staking), amount);
        staking.stake(_role(role), amount);
        vm.stopPrank();
        ghostDeposited += amount;
    }

    function unstake(uint256 who, uint256 role, uint256 amount) external {
        address a = _actor(who);
        Staking.Role r = _role(role);
        uint256 s = staking.stakeOf(a, r);
        if (s == 0) return;
        amount = bound(amount, 1, s);
        vm.prank(a);
        staking.unstake(r, amount);
    }

    function withdraw(uint256 who) external {
        address a = _actor(who);
        uint256 before = open.balanceOf(a);
        vm.prank(a);
        try staking.withdraw() {
            ghostWithdrawn += open.balanceOf(a) - before;
        } catch {}
    }

    function slash(uint256 who, uint256 role, uint256 amount) external {
        address a = _actor(who);
        amount = bound(amount, 1, 1e27);
        vm.prank(gov);
        ghostSlashed += staking.slash(a, _role(role), amount, gov);
    }

    function notifyReward(uint256 amount) external {
        if (open.balanceOf(notifier) == 0) return;
        amount = bound(amount, 1, open.balanceOf(notifier));
        vm.startPrank(notifier);
        open.approve(address(staking), amount);
        staking.notifyReward(amount);
        vm.stopPrank();
        if (staking.totalStaked() != 0) ghostNotified += amount;
    }

    function claimRewards(uint256 who) external {
        address a = _actor(who);
        vm.prank(a);
        try staking.claimRewards() returns (uint256 paid) {
            ghostClaimed += paid;
        } catch {}
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 1, 10 days));
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }
}

/// Invariant: staked + unbonding + withdrawn + slashed == deposited; the contract holds exactly
/// stakes, unbonding OPEN and unpaid rewards; rewards paid never exceed rewards notified.
contract StakingInvariantTest is Fixture {
    StakingHandler internal handler;

    function setUp() public {
        vm.warp(1_000_000);
        deployProtocol(gov);
        address[] memory actors = new address[](4);
        for (uint256 i = 0; i < actors.length; i++) {
            actors[i] = address(uint160(0xA11CE + i));
            fundOpen(actors[i], 1_000_000e18);
        }
        fundOpen(carol, 1_000_000e18);
        handler = new StakingHandler(open, staking, gov, carol, actors);
        targetContract(address(handler));
    }

    function invariant_stakingConservation() public view {
        assertEq(
            staking.totalStaked() + staking.totalUnbonding() + staking.totalWithdrawn() + staking.totalSlashed(),
            staking.totalDeposited(),
            "staked + unbonding + withdrawn + slashed == deposited"
        );
        assertEq(staking.totalDeposited(), handler.ghostDeposited(), "deposited matches ghost");
        assertEq(staking.totalWithdrawn(), handler.ghostWithdrawn(), "withdrawn matches ghost");
        assertEq(staking.totalSlashed(), handler.ghostSlashed(), "slashed matches ghost");
        uint256 staked;
        uint256 unbonding;
        for (uint256 i = 0; i < handler.actorCount(); i++) {
            address a = handler.actors(i);
            staked += staking.stakeOf(a, Staking.Role.Operator) + staking.stakeOf(a, Staking.Role.Settler);
            (uint256 u1,) = staking.unbondingOf(a, Staking.Role.Operator);
            (uint256 u2,) = staking.unbondingOf(a, Staking.Role.Settler);
            unbonding += u1 + u2;
        }
        assertEq(staked, staking.totalStaked(), "stakes sum to totalStaked");
        assertEq(unbonding, staking.totalUnbonding(), "buckets sum to totalUnbonding");
    }

    function invariant_stakingSolvent() public view {
        assertEq(
            open.balanceOf(address(staking)),
            staking.totalStaked() + staking.totalUnbonding() + staking.rewardReserve(),
            "balance == staked + unbonding + reserve"
        );
        uint256 owed;
        for (uint256 i = 0; i < handler.actorCount(); i++) {
            owed += staking.earned(handler.actors(i));
        }
        assertLe(owed, staking.rewardReserve(), "rewards owed <= reserve");
        assertLe(handler.ghostClaimed() + owed, handler.ghostNotified(), "paid + owed <= notified");
    }
}
