// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title OpenToken (OPEN)
/// @notice The OpenLedger protocol token: a fixed supply of one billion OPEN, minted once to the
///         treasury at deployment. There is no mint function; the supply can only shrink by burns.
contract OpenToken is ERC20, ERC20Permit, ERC20Burnable {
    /// @notice The whole supply, minted once at deployment: 1,000,000,000 OPEN (18 decimals).
    uint256 public constant INITIAL_SUPPLY = 1_000_000_000e18;

    /// @notice The treasury address was zero.
    error ZeroAddress();

    /// @param treasury Receives the whole initial supply.
    constructor(address treasury) ERC20("Open", "OPEN") ERC20Permit("Open") {
        if (treasury == address(0)) revert ZeroAddress();
        _mint(treasury, INITIAL_SUPPLY);
    }
}
