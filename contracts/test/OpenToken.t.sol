// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {OpenToken} from "../src/OpenToken.sol";

contract OpenTokenTest is Test {
    OpenToken internal open;
    address internal treasury = makeAddr("treasury");
    address internal alice = makeAddr("alice");

    function setUp() public {
        open = new OpenToken(treasury);
    }

    function test_metadata() public view {
        assertEq(open.name(), "Open");
        assertEq(open.symbol(), "OPEN");
        assertEq(uint256(open.decimals()), 18);
    }

    function test_mintsWholeSupplyToTreasuryOnce() public view {
        assertEq(open.totalSupply(), 1_000_000_000e18);
        assertEq(open.INITIAL_SUPPLY(), 1_000_000_000e18);
        assertEq(open.balanceOf(treasury), 1_000_000_000e18);
    }

    function test_revert_zeroTreasury() public {
        vm.expectRevert(OpenToken.ZeroAddress.selector);
        new OpenToken(address(0));
    }

    function test_hasNoMintFunction() public {
        (bool ok,) = address(open).call(abi.encodeWithSignature("mint(address,uint256)", alice, 1));
        assertFalse(ok, "mint must not exist");
        (ok,) = address(open).call(abi.encodeWithSignature("mint(uint256)", 1));
        assertFalse(ok, "mint must not exist");
        assertEq(open.totalSupply(), 1_000_000_000e18);
    }

    function test_burnShrinksSupply() public {
        vm.prank(treasury);
        open.burn(5e18);
        assertEq(open.totalSupply(), 1_000_000_000e18 - 5e18);
        assertEq(open.balanceOf(treasury), 1_000_000_000e18 - 5e18);
    }

    function test_burnFromUsesAllowance() public {
        vm.prank(treasury);
        open.approve(alice, 3e18);
        vm.prank(alice);
        open.burnFrom(treasury, 2e18);
        assertEq(open.allowance(treasury, alice), 1e18);
        assertEq(open.totalSupply(), 1_000_000_000e18 - 2e18);
        vm.prank(alice);
        vm.expectRevert();
        open.burnFrom(treasury, 2e18);
    }

    function test_permit() public {
        (address owner, uint256 key) = makeAddrAndKey("permit-owner");
        vm.prank(treasury);
        open.transfer(owner, 10e18);
        bytes32 typehash =
            keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
        bytes32 structHash = keccak256(abi.encode(typehash, owner, alice, 7e18, 0, block.timestamp + 1));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", open.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        open.permit(owner, alice, 7e18, block.timestamp + 1, v, r, s);
        assertEq(open.allowance(owner, alice), 7e18);
        assertEq(open.nonces(owner), 1);
        vm.expectRevert();
        open.permit(owner, alice, 7e18, block.timestamp + 1, v, r, s); // replay
    }

    function testFuzz_transferConservesSupply(address to, uint256 amount) public {
        vm.assume(to != address(0));
        amount = bound(amount, 0, 1_000_000_000e18);
        vm.prank(treasury);
        open.transfer(to, amount);
        assertEq(open.totalSupply(), 1_000_000_000e18);
        if (to != treasury) assertEq(open.balanceOf(to), amount);
    }

    function testFuzz_burn(uint256 amount) public {
        amount = bound(amount, 0, 1_000_000_000e18);
        vm.prank(treasury);
        open.burn(amount);
        assertEq(open.totalSupply(), 1_000_000_000e18 - amount);
    }
}
