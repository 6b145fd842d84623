// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice The source of the settlement epoch number (the RewardDistributor).
interface IEpochClock {
    /// @notice The epoch now accumulating fees (starts at 1).
    function currentEpoch() external view returns (uint256);
}
