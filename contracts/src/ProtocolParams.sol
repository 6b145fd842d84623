// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IEpochClock} from "./interfaces/IEpochClock.sol";

/// @title ProtocolParams
/// @notice Every governed number of the protocol. Only `governance` (the timelock) changes them,
///         and a change takes effect from the next settlement epoch: an epoch already running keeps
///         the parameters it started with. `paramsAt(epoch)` answers for any epoch, past or future.
contract ProtocolParams {
    /// @notice The governed parameters (see docs/protocol.md for the meaning of each field).
    struct Params {
        uint16 ownerBps;
        uint16 stakersBps;
        uint16 contributorsBps;
        uint96 platformFee;
        address treasury;
        uint64 epochLength;
        uint64 challengeWindow;
        uint64 unbondingPeriod;
        uint64 withdrawNotice;
        uint16 slashBps;
        uint32 penaltyThreshold;
        uint16 penaltyRewardBps;
        uint96 minOperatorStake;
        uint96 minSettlerStake;
        uint96 publishFeeBase;
        uint96 publishFeePerRow;
        uint96 challengeBond;
    }

    uint16 internal constant BPS = 10_000;
    /// @notice Upper bound for every duration parameter, so a typo cannot lock funds for ages.
    uint64 public constant MAX_DURATION = 365 days;

    /// @notice The address allowed to change parameters (the TimelockController).
    address public immutable governance;
    /// @notice The account that deployed this contract; it may set the epoch clock once.
    address public immutable deployer;
    /// @notice The contract whose `currentEpoch()` numbers settlement epochs (the RewardDistributor).
    address public epochClock;

    /// @dev First epoch of each parameter set, ascending; `_sets[i]` applies from `_fromEpochs[i]`.
    uint256[] internal _fromEpochs;
    mapping(uint256 index => Params) internal _sets;

    /// @notice Emitted when a parameter set is scheduled (also for the initial set, from epoch 0).
    event ParamsScheduled(uint256 fromEpoch, Params p);
    /// @notice Emitted once, when the epoch clock is set.
    event EpochClockSet(address clock);

    /// @notice The caller may not do this.
    error Unauthorized();
    /// @notice A basis-point value is out of range or the three fee shares do not sum to 10_000.
    error InvalidShares();
    /// @notice A required address was zero.
    error ZeroAddress();
    /// @notice The epoch clock was already set.
    error ClockAlreadySet();
    /// @notice A parameter is out of its allowed range (names the field).
    error InvalidParam(string field);

    /// @param governance_ The TimelockController that owns the parameters.
    /// @param initial The parameters in force from the start.
    constructor(address governance_, Params memory initial) {
        if (governance_ == address(0)) revert ZeroAddress();
        _validate(initial);
        governance = governance_;
        deployer = msg.sender;
        _fromEpochs.push(0);
        _sets[0] = initial;
        emit ParamsScheduled(0, initial);
    }

    /// @notice Sets the epoch clock (the RewardDistributor). Once, by the deployer.
    /// @param clock The contract implementing `currentEpoch()`.
    function setEpochClock(address clock) external {
        if (msg.sender != deployer) revert Unauthorized();
        if (epochClock != address(0)) revert ClockAlreadySet();
        if (clock == address(0)) revert ZeroAddress();
        epochClock = clock;
        emit EpochClockSet(clock);
    }

    /// @notice Schedules new parameters from `currentEpoch() + 1`. Only governance. A second call in
    ///         the same epoch replaces the set scheduled by the first.
    /// @param p The new parameters.
    function setParams(Params calldata p) external {
        if (msg.sender != governance) revert Unauthorized();
        _validate(p);
        uint256 fromEpoch = currentEpoch() + 1;
        uint256 n = _fromEpochs.length;
        uint256 index;
        if (_fromEpochs[n - 1] == fromEpoch) {
            index = n - 1;
        } else {
            index = n;
            _fromEpochs.push(fromEpoch);
        }
        _sets[index] = p;
        emit ParamsScheduled(fromEpoch, p);
    }

    /// @notice The settlement epoch now running, from the epoch clock (1 before the clock is set).
    /// @return The epoch number.
    function currentEpoch() public view returns (uint256) {
        address clock = epochClock;
        return clock == address(0) ? 1 : IEpochClock(clock).currentEpoch();
    }

    /// @notice The parameters in force for the current epoch.
    /// @return The parameter set.
    function params() external view returns (Params memory) {
        return _sets[_indexAt(currentEpoch())];
    }

    /// @notice The parameters in force for settlement epoch `epoch`.
    /// @param epoch Any epoch number (future epochs answer with what is scheduled so far).
    /// @return The parameter set.
    function paramsAt(uint256 epoch) external view returns (Params memory) {
        return _sets[_indexAt(epoch)];
    }

    /// @notice The treasury of the current parameters (receives platform and publish fees).
    /// @return The treasury address.
    function treasury() external view returns (address) {
        return _sets[_indexAt(currentEpoch())].treasury;
    }

    /// @notice Number of parameter sets ever scheduled (the initial one included).
    /// @return The count.
    function scheduleLength() external view returns (uint256) {
        return _fromEpochs.length;
    }

    /// @dev Index of the last set whose first epoch is <= `epoch`. Looks at the newest entries
    ///      first (the usual question is about the current epoch), then binary-searches.
    function _indexAt(uint256 epoch) internal view returns (uint256) {
        uint256 n = _fromEpochs.length;
        if (_fromEpochs[n - 1] <= epoch) return n - 1;
        // _fromEpochs[0] == 0 <= epoch, so an answer exists in [0, n-2].
        uint256 lo = 0;
        uint256 hi = n - 1; // invariant: _fromEpochs[lo] <= epoch < _fromEpochs[hi]
        while (hi - lo > 1) {
            uint256 mid = (lo + hi) / 2;
            if (_fromEpochs[mid] <= epoch) lo = mid;
            else hi = mid;
        }
        return lo;
    }

    function _validate(Params memory p) internal pure {
        if (uint256(p.ownerBps) + p.stakersBps + p.contributorsBps != BPS) revert InvalidShares();
        if (p.slashBps > BPS || p.penaltyRewardBps > BPS) revert InvalidShares();
        if (p.treasury == address(0)) revert ZeroAddress();
        if (p.epochLength == 0 || p.epochLength > MAX_DURATION) revert InvalidParam("epochLength");
        if (p.challengeWindow > MAX_DURATION) revert InvalidParam("challengeWindow");
        if (p.unbondingPeriod > MAX_DURATION) revert InvalidParam("unbondingPeriod");
        if (p.withdrawNotice > MAX_DURATION) revert InvalidParam("withdrawNotice");
    }
}
