// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "../utils/Test.sol";
import {OpenToken} from "../../src/OpenToken.sol";

contract TokenHandler is Test {
    OpenToken internal open;
    address[] public actors;
    uint256 public burned;
    uint256 public lastSupply;
    bool public grew;

    constructor(OpenToken open_, address[] memory actors_) {
        open = open_;
        actors = actors_;
        lastSupply = open_.totalSupply();
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function _after() internal {
        uint256 s = open.totalSupply();
        if (s > lastSupply) grew = true;
        lastSupply = s;
    }

    function transfer(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        address from = _actor(fromSeed);
        amount = bound(amount, 0, open.balanceOf(from));
        vm.prank(from);
        open.transfer(_actor(toSeed), amount);
        _after();
    }

    function burn(uint256 fromSeed, uint256 amount) external {
        address from = _actor(fromSeed);
        amount = bound(amount, 0, open.balanceOf(from));
        vm.prank(from);
        open.burn(amount);
        burned += amount;
        _after();
    }

    function burnFrom(uint256 ownerSeed, uint256 spenderSeed, uint256 amount) external {
        address owner = _actor(ownerSeed);
        address spender = _actor(spenderSeed);
        amount = bound(amount, 0, open.balanceOf(owner));
        vm.prank(owner);
        open.approve(spender, amount);
        vm.prank(spender);
        open.burnFrom(owner, amount);
        burned += amount;
        _after();
    }

    function transferFrom(uint256 ownerSeed, uint256 spenderSeed, uint256 toSeed, uint256 amount) external {
        address owner = _actor(ownerSeed);
        address spender = _actor(spenderSeed);
        amount = bound(amount, 0, open.balanceOf(owner));
        vm.prank(owner);
        open.approve(spender, amount);
        vm.prank(spender);
        open.transferFrom(owner, _actor(toSeed), amount);
        _after();
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }
}

/// Invariant: OPEN's total supply is 10^27 minus burns, and never grows.
contract TokenInvariantTest is Test {
    OpenToken internal open;
    TokenHandler internal handler;

    function setUp() public {
        address[] memory actors = new address[](4);
        actors[0] = makeAddr("treasury");
        actors[1] = makeAddr("a");
        actors[2] = makeAddr("b");
        actors[3] = makeAddr("c");
        open = new OpenToken(actors[0]);
        handler = new TokenHandler(open, actors);
        targetContract(address(handler));
    }

    function invariant_supplyIsInitialMinusBurns() public view {
        assertEq(open.totalSupply(), 1e27 - handler.burned(), "supply == 1e27 - burned");
        uint256 sum;
        for (uint256 i = 0; i < handler.actorCount(); i++) {
            sum += open.balanceOf(handler.actors(i));
        }
        assertEq(sum, open.totalSupply(), "balances sum to the supply");
    }

    function invariant_supplyNeverGrows() public view {
        assertFalse(handler.grew(), "supply grew");
        assertLe(open.totalSupply(), 1e27);
    }
}
