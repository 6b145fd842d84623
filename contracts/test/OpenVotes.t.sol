// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {OpenToken} from "../src/OpenToken.sol";
import {OpenVotes} from "../src/OpenVotes.sol";

contract OpenVotesTest is Test {
    OpenToken internal open;
    OpenVotes internal votes;
    address internal treasury = makeAddr("treasury");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");

    function setUp() public {
        open = new OpenToken(treasury);
        votes = new OpenVotes(open);
        vm.prank(treasury);
        open.transfer(alice, 100e18);
        vm.warp(1_000_000);
    }

    function _deposit(address who, uint256 amount) internal {
        vm.startPrank(who);
        open.approve(address(votes), amount);
        votes.depositFor(who, amount);
        vm.stopPrank();
    }

    function test_metadataAndClock() public view {
        assertEq(votes.name(), "Open Votes");
        assertEq(votes.symbol(), "vOPEN");
        assertEq(uint256(votes.decimals()), 18);
        assertEq(uint256(votes.clock()), block.timestamp);
        assertEq(votes.CLOCK_MODE(), "mode=timestamp");
        assertEq(address(votes.underlying()), address(open));
    }

    function test_depositLocksOneToOne() public {
        _deposit(alice, 40e18);
        assertEq(votes.balanceOf(alice), 40e18);
        assertEq(open.balanceOf(address(votes)), 40e18);
        assertEq(open.balanceOf(alice), 60e18);
        assertEq(votes.totalSupply(), 40e18);
    }

    function test_votesNeedDelegation() public {
        _deposit(alice, 40e18);
        assertEq(votes.getVotes(alice), 0);
        vm.prank(alice);
        votes.delegate(alice);
        assertEq(votes.getVotes(alice), 40e18);
        vm.prank(alice);
        votes.delegate(bob);
        assertEq(votes.getVotes(alice), 0);
        assertEq(votes.getVotes(bob), 40e18);
    }

    function test_pastVotesByTimestamp() public {
        _deposit(alice, 40e18);
        vm.prank(alice);
        votes.delegate(alice);
        uint256 t0 = block.timestamp;
        vm.warp(t0 + 10);
        _deposit(alice, 10e18);
        vm.warp(t0 + 20);
        assertEq(votes.getPastVotes(alice, t0), 40e18);
        assertEq(votes.getPastVotes(alice, t0 + 10), 50e18);
        assertEq(votes.getPastTotalSupply(t0), 40e18);
    }

    function test_withdrawReturnsOpenAndVotes() public {
        _deposit(alice, 40e18);
        vm.prank(alice);
        votes.delegate(alice);
        vm.prank(alice);
        votes.withdrawTo(bob, 15e18);
        assertEq(votes.balanceOf(alice), 25e18);
        assertEq(votes.getVotes(alice), 25e18);
        assertEq(open.balanceOf(bob), 15e18);
    }

    function test_revert_withdrawMoreThanBalance() public {
        _deposit(alice, 10e18);
        vm.prank(alice);
        vm.expectRevert();
        votes.withdrawTo(alice, 11e18);
    }

    function testFuzz_depositWithdrawRoundTrip(uint256 amount, uint256 back) public {
        amount = bound(amount, 1, 100e18);
        back = bound(back, 0, amount);
        _deposit(alice, amount);
        vm.prank(alice);
        votes.withdrawTo(alice, back);
        assertEq(votes.balanceOf(alice), amount - back);
        assertEq(open.balanceOf(alice), 100e18 - amount + back);
        assertEq(open.balanceOf(address(votes)), votes.totalSupply());
    }
}
