// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {ProtocolParams} from "../src/ProtocolParams.sol";

contract ClockStub {
    uint256 public currentEpoch = 1;

    function set(uint256 e) external {
        currentEpoch = e;
    }
}

contract ProtocolParamsTest is Fixture {
    ProtocolParams internal pp;
    ClockStub internal clock;

    event ParamsScheduled(uint256 fromEpoch, ProtocolParams.Params p);
    event EpochClockSet(address clock);

    function setUp() public {
        pp = new ProtocolParams(gov, defaultParams(treasury));
        clock = new ClockStub();
        pp.setEpochClock(address(clock));
    }

    function _with(uint16 ownerBps, uint16 stakersBps, uint16 contributorsBps)
        internal
        view
        returns (ProtocolParams.Params memory p)
    {
        p = defaultParams(treasury);
        p.ownerBps = ownerBps;
        p.stakersBps = stakersBps;
        p.contributorsBps = contributorsBps;
    }

    function test_initialParams() public view {
        ProtocolParams.Params memory p = pp.params();
        assertEq(uint256(p.ownerBps), 3_000);
        assertEq(uint256(p.contributorsBps), 6_000);
        assertEq(p.treasury, treasury);
        assertEq(pp.treasury(), treasury);
        assertEq(pp.governance(), gov);
        assertEq(pp.deployer(), address(this));
        assertEq(pp.currentEpoch(), 1);
        assertEq(pp.scheduleLength(), 1);
        assertEq(uint256(pp.paramsAt(0).ownerBps), 3_000);
    }

    function test_constructorValidates() public {
        vm.expectRevert(ProtocolParams.ZeroAddress.selector);
        new ProtocolParams(address(0), defaultParams(treasury));
        vm.expectRevert(ProtocolParams.InvalidShares.selector);
        new ProtocolParams(gov, _with(1, 1, 1));
        vm.expectRevert(ProtocolParams.ZeroAddress.selector);
        new ProtocolParams(gov, defaultParams(address(0)));
    }

    function test_currentEpochIsOneWithoutClock() public {
        ProtocolParams fresh = new ProtocolParams(gov, defaultParams(treasury));
        assertEq(fresh.currentEpoch(), 1);
        assertEq(fresh.epochClock(), address(0));
    }

    function test_setEpochClockOnceByDeployer() public {
        ProtocolParams fresh = new ProtocolParams(gov, defaultParams(treasury));
        vm.prank(alice);
        vm.expectRevert(ProtocolParams.Unauthorized.selector);
        fresh.setEpochClock(address(clock));
        vm.expectRevert(ProtocolParams.ZeroAddress.selector);
        fresh.setEpochClock(address(0));
        vm.expectEmit(address(fresh));
        emit EpochClockSet(address(clock));
        fresh.setEpochClock(address(clock));
        assertEq(fresh.epochClock(), address(clock));
        vm.expectRevert(ProtocolParams.ClockAlreadySet.selector);
        fresh.setEpochClock(address(clock));
    }

    function test_revert_setParamsUnauthorized() public {
        ProtocolParams.Params memory p = _with(5_000, 0, 5_000);
        vm.prank(alice);
        vm.expectRevert(ProtocolParams.Unauthorized.selector);
        pp.setParams(p);
    }

    function test_revert_setParamsInvalid() public {
        vm.startPrank(gov);
        vm.expectRevert(ProtocolParams.InvalidShares.selector);
        pp.setParams(_with(5_000, 0, 4_999));
        vm.expectRevert(ProtocolParams.InvalidShares.selector);
        pp.setParams(_with(5_000, 5_000, 1));
        ProtocolParams.Params memory p = defaultParams(treasury);
        p.slashBps = 10_001;
        vm.expectRevert(ProtocolParams.InvalidShares.selector);
        pp.setParams(p);
        p = defaultParams(treasury);
        p.penaltyRewardBps = 10_001;
        vm.expectRevert(ProtocolParams.InvalidShares.selector);
        pp.setParams(p);
        p = defaultParams(address(0));
        vm.expectRevert(ProtocolParams.ZeroAddress.selector);
        pp.setParams(p);
        p = defaultParams(treasury);
        p.epochLength = 0;
        vm.expectRevert(abi.encodeWithSelector(ProtocolParams.InvalidParam.selector, "epochLength"));
        pp.setParams(p);
        p = defaultParams(treasury);
        p.epochLength = 365 days + 1;
        vm.expectRevert(abi.encodeWithSelector(ProtocolParams.InvalidParam.selector, "epochLength"));
        pp.setParams(p);
        p = defaultParams(treasury);
        p.challengeWindow = 365 days + 1;
        vm.expectRevert(abi.encodeWithSelector(ProtocolParams.InvalidParam.selector, "challengeWindow"));
        pp.setParams(p);
        p = defaultParams(treasury);
        p.unbondingPeriod = 365 days + 1;
        vm.expectRevert(abi.encodeWithSelector(ProtocolParams.InvalidParam.selector, "unbondingPeriod"));
        pp.setParams(p);
        p = defaultParams(treasury);
        p.withdrawNotice = 365 days + 1;
        vm.expectRevert(abi.encodeWithSelector(ProtocolParams.InvalidParam.selector, "withdrawNotice"));
        pp.setParams(p);
        p = defaultParams(treasury);
        p.withdrawNotice = 365 days; // the bound itself is allowed
        pp.setParams(p);
        vm.stopPrank();
    }

    function test_setParamsTakesEffectNextEpoch() public {
        ProtocolParams.Params memory p = _with(2_000, 2_000, 6_000);
        vm.expectEmit(address(pp));
        emit ParamsScheduled(2, p);
        vm.prank(gov);
        pp.setParams(p);
        assertEq(uint256(pp.params().ownerBps), 3_000, "current epoch unchanged");
        assertEq(uint256(pp.paramsAt(1).ownerBps), 3_000);
        assertEq(uint256(pp.paramsAt(2).ownerBps), 2_000);
        clock.set(2);
        assertEq(uint256(pp.params().ownerBps), 2_000, "next epoch changed");
    }

    function test_secondChangeInSameEpochReplacesFirst() public {
        vm.startPrank(gov);
        pp.setParams(_with(2_000, 2_000, 6_000));
        pp.setParams(_with(1_000, 1_000, 8_000));
        vm.stopPrank();
        assertEq(pp.scheduleLength(), 2);
        assertEq(uint256(pp.paramsAt(2).ownerBps), 1_000);
    }

    function test_historyIsKept() public {
        for (uint16 i = 1; i <= 9; i++) {
            clock.set(uint256(i) * 10);
            vm.prank(gov);
            pp.setParams(_with(i * 100, 0, 10_000 - i * 100));
        }
        assertEq(pp.scheduleLength(), 10);
        assertEq(uint256(pp.paramsAt(0).ownerBps), 3_000);
        assertEq(uint256(pp.paramsAt(10).ownerBps), 3_000);
        assertEq(uint256(pp.paramsAt(11).ownerBps), 100);
        assertEq(uint256(pp.paramsAt(30).ownerBps), 200);
        assertEq(uint256(pp.paramsAt(31).ownerBps), 300);
        assertEq(uint256(pp.paramsAt(55).ownerBps), 500);
        assertEq(uint256(pp.paramsAt(91).ownerBps), 900);
        assertEq(uint256(pp.paramsAt(1e9).ownerBps), 900);
        assertEq(uint256(pp.params().ownerBps), 800); // current epoch 90: the set scheduled at 80
    }

    /// Fuzz: paramsAt(e) is the last set scheduled from an epoch <= e.
    function testFuzz_paramsAtMatchesLinearScan(uint8 steps, uint256 query) public {
        steps = uint8(bound(steps, 1, 20));
        uint256[] memory from = new uint256[](steps + 1);
        uint256 epoch = 1;
        for (uint256 i = 1; i <= steps; i++) {
            epoch += 1 + (uint256(keccak256(abi.encode(i, query))) % 5);
            clock.set(epoch);
            vm.prank(gov);
            pp.setParams(_with(uint16(i), 0, uint16(10_000 - i)));
            from[i] = epoch + 1;
        }
        query = bound(query, 0, epoch + 10);
        uint256 expected = 3_000;
        for (uint256 i = 1; i <= steps; i++) {
            if (from[i] <= query) expected = i;
        }
        assertEq(uint256(pp.paramsAt(query).ownerBps), expected);
    }

    function testFuzz_sharesMustSumTo10000(uint16 a, uint16 b, uint16 c) public {
        ProtocolParams.Params memory p = _with(a, b, c);
        vm.prank(gov);
        if (uint256(a) + b + c != 10_000) {
            vm.expectRevert(ProtocolParams.InvalidShares.selector);
            pp.setParams(p);
        } else {
            pp.setParams(p);
            assertEq(uint256(pp.paramsAt(2).ownerBps), a);
        }
    }
}
