// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {OpenToken} from "../src/OpenToken.sol";
import {OpenVotes} from "../src/OpenVotes.sol";
import {OpenGovernor} from "../src/OpenGovernor.sol";
import {ProtocolParams} from "../src/ProtocolParams.sol";
import {Staking} from "../src/Staking.sol";
import {RewardDistributor} from "../src/RewardDistributor.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";

/// The whole governance path with the real contracts and the local preset (delay 1 s, period
/// 300 s, threshold 0, quorum 4 %, timelock 60 s): lock OPEN in OpenVotes, delegate, propose
/// ProtocolParams.setParams, vote, queue, execute through the timelock; the new parameters apply
/// from the next settlement epoch only.
contract GovernanceTest is Test {
    OpenToken internal open;
    OpenVotes internal votes;
    TimelockController internal timelock;
    OpenGovernor internal governor;
    ProtocolParams internal params;
    Staking internal staking;
    RewardDistributor internal rewards;

    address internal treasury = makeAddr("treasury");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal settler = makeAddr("settler");

    function _params(uint16 ownerBps, uint16 stakersBps, uint16 contributorsBps)
        internal
        view
        returns (ProtocolParams.Params memory)
    {
        return ProtocolParams.Params({
            ownerBps: ownerBps,
            stakersBps: stakersBps,
            contributorsBps: contributorsBps,
            platformFee: 1e15,
            treasury: treasury,
            epochLength: 1 hours,
            challengeWindow: 1 hours,
            unbondingPeriod: 7 days,
            withdrawNotice: 1 days,
            slashBps: 5_000,
            penaltyThreshold: 100,
            penaltyRewardBps: 5_000,
            minOperatorStake: 1_000e18,
            minSettlerStake: 1_000e18,
            publishFeeBase: 1e18,
            publishFeePerRow: 1e15,
            challengeBond: 100e18
        });
    }

    function setUp() public {
        vm.warp(1_700_000_000);
        open = new OpenToken(treasury);
        votes = new OpenVotes(open);
        address[] memory none = new address[](0);
        address[] memory anyone = new address[](1);
        anyone[0] = address(0);
        timelock = new TimelockController(60, none, anyone, address(this));
        governor = new OpenGovernor(votes, timelock, 1, 300, 0, 4);
        params = new ProtocolParams(address(timelock), _params(3_000, 1_000, 6_000));
        staking = new Staking(open, params, address(timelock));
        rewards = new RewardDistributor(open, params, staking, address(timelock));
        params.setEpochClock(address(rewards));
        staking.setSlasher(address(rewards));
        timelock.grantRole(timelock.PROPOSER_ROLE(), address(governor));
        timelock.grantRole(timelock.CANCELLER_ROLE(), address(governor));
        timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), address(this));

        vm.startPrank(treasury);
        open.transfer(alice, 100_000_000e18); // 10 % of the supply
        open.transfer(bob, 1_000_000e18);
        open.transfer(settler, 1_000e18);
        vm.stopPrank();
        vm.startPrank(settler);
        open.approve(address(staking), 1_000e18);
        staking.stake(Staking.Role.Settler, 1_000e18);
        vm.stopPrank();
    }

    function _lockAndDelegate(address who, uint256 amount) internal {
        vm.startPrank(who);
        open.approve(address(votes), amount);
        votes.depositFor(who, amount);
        votes.delegate(who);
        vm.stopPrank();
    }

    function _proposal(ProtocolParams.Params memory p)
        internal
        view
        returns (address[] memory targets, uint256[] memory values, bytes[] memory calldatas)
    {
        targets = new address[](1);
        targets[0] = address(params);
        values = new uint256[](1);
        calldatas = new bytes[](1);
        calldatas[0] = abi.encodeCall(ProtocolParams.setParams, (p));
    }

    function test_wiring() public view {
        assertEq(governor.name(), "OpenGovernor");
        assertEq(governor.votingDelay(), 1);
        assertEq(governor.votingPeriod(), 300);
        assertEq(governor.proposalThreshold(), 0);
        assertEq(governor.quorumNumerator(), 4);
        assertEq(governor.timelock(), address(timelock));
        assertEq(governor.CLOCK_MODE(), "mode=timestamp");
        assertEq(uint256(governor.clock()), block.timestamp);
        assertTrue(timelock.hasRole(timelock.PROPOSER_ROLE(), address(governor)));
        assertTrue(timelock.hasRole(timelock.EXECUTOR_ROLE(), address(0)));
        assertFalse(timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), address(this)));
        assertTrue(governor.proposalNeedsQueuing(0));
    }

    function test_fullCycleNewSharesFromNextEpoch() public {
        _lockAndDelegate(alice, 100_000_000e18);
        _lockAndDelegate(bob, 1_000_000e18);
        vm.warp(block.timestamp + 1);

        ProtocolParams.Params memory p = _params(2_000, 1_500, 6_500);
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = _proposal(p);
        string memory description = "Fee shares 20/15/65";
        vm.prank(bob);
        uint256 id = governor.propose(targets, values, calldatas, description);
        assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Pending));

        vm.warp(block.timestamp + 2);
        assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Active));
        vm.prank(alice);
        governor.castVote(id, 1); // For
        vm.prank(bob);
        governor.castVote(id, 0); // Against
        (uint256 against, uint256 forVotes,) = governor.proposalVotes(id);
        assertEq(forVotes, 100_000_000e18);
        assertEq(against, 1_000_000e18);

        vm.warp(block.timestamp + 301);
        assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Succeeded));
        bytes32 descriptionHash = keccak256(bytes(description));
        governor.queue(targets, values, calldatas, descriptionHash);
        assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Queued));

        vm.expectRevert(); // the timelock delay has not passed
        governor.execute(targets, values, calldatas, descriptionHash);
        vm.warp(block.timestamp + 60);
        governor.execute(targets, values, calldatas, descriptionHash);
        assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Executed));

        // in force from the next epoch only
        assertEq(params.currentEpoch(), 1);
        assertEq(uint256(params.params().ownerBps), 3_000, "epoch 1 keeps its shares");
        assertEq(uint256(params.paramsAt(2).ownerBps), 2_000);
        vm.prank(settler);
        rewards.postRoot(1, bytes32(0), 0, "");
        assertEq(params.currentEpoch(), 2);
        ProtocolParams.Params memory now_ = params.params();
        assertEq(uint256(now_.ownerBps), 2_000);
        assertEq(uint256(now_.stakersBps), 1_500);
        assertEq(uint256(now_.contributorsBps), 6_500);
        assertEq(uint256(params.paramsAt(1).ownerBps), 3_000, "history kept");
    }

    function test_defeatedWithoutQuorum() public {
        _lockAndDelegate(bob, 1_000_000e18); // 0.1 % of the supply, all of vOPEN
        _lockAndDelegate(alice, 100_000_000e18);
        vm.warp(block.timestamp + 1);
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) =
            _proposal(_params(2_000, 1_500, 6_500));
        vm.prank(bob);
        uint256 id = governor.propose(targets, values, calldatas, "small");
        vm.warp(block.timestamp + 2);
        vm.prank(bob);
        governor.castVote(id, 1);
        vm.warp(block.timestamp + 301);
        assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Defeated));
        vm.expectRevert();
        governor.queue(targets, values, calldatas, keccak256("small"));
    }

    function test_onlyTimelockChangesParams() public {
        vm.expectRevert(ProtocolParams.Unauthorized.selector);
        params.setParams(_params(2_000, 1_500, 6_500));
        vm.prank(address(governor));
        vm.expectRevert(ProtocolParams.Unauthorized.selector);
        params.setParams(_params(2_000, 1_500, 6_500));
    }
}
