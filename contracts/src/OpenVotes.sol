// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {ERC20Wrapper} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Wrapper.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title OpenVotes (vOPEN)
/// @notice Governance weight: OPEN locked 1:1 (`depositFor` / `withdrawTo`). Votes are checkpointed
///         by timestamp and count only once delegated (`delegate(self)` to vote with your own).
contract OpenVotes is ERC20, ERC20Permit, ERC20Votes, ERC20Wrapper {
    /// @param open The OPEN token that is wrapped.
    constructor(IERC20 open) ERC20("Open Votes", "vOPEN") ERC20Permit("Open Votes") ERC20Wrapper(open) {}

    /// @notice The clock used for vote checkpoints: the block timestamp.
    /// @return The current timestamp as a uint48.
    function clock() public view override returns (uint48) {
        return uint48(block.timestamp);
    }

    /// @notice Machine-readable description of the clock (EIP-6372).
    /// @return Always "mode=timestamp".
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    /// @notice Decimals of vOPEN, equal to OPEN's (18).
    /// @return The number of decimals.
    function decimals() public view override(ERC20, ERC20Wrapper) returns (uint8) {
        return super.decimals();
    }

    /// @notice Current EIP-2612 nonce of `owner`.
    /// @param owner The account.
    /// @return The next nonce.
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }
}
