// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {DatanetRegistry} from "../src/DatanetRegistry.sol";
import {ProtocolParams} from "../src/ProtocolParams.sol";

contract DatanetRegistryTest is Fixture {
    event DatanetCreated(
        uint256 indexed id,
        address indexed owner,
        bool permissioned,
        DatanetRegistry.Policy policy,
        string license,
        string metadataURI,
        bytes32 metadataHash
    );
    event MetadataUpdated(uint256 indexed id, string metadataURI, bytes32 metadataHash);
    event AccessGranted(uint256 indexed id, address indexed account);
    event AccessRevoked(uint256 indexed id, address indexed account);
    event ReviewerSet(uint256 indexed id, address indexed account, bool allowed);
    event VersionPublished(
        uint256 indexed id, uint32 indexed version, bytes32 root, uint64 rowCount, string contentURI, uint256 fee
    );
    event ContributionRecorded(
        uint256 indexed id, uint32 indexed version, address indexed contributor, bytes32 contentHash
    );

    function setUp() public {
        deployProtocol(gov);
    }

    function _create(bool permissioned) internal returns (uint256 id) {
        vm.prank(alice);
        id = datanets.createDatanet("ipfs://m", keccak256("m"), "MIT", permissioned, DatanetRegistry.Policy.AllowList);
    }

    function _publish(uint256 id, uint64 rows) internal returns (uint32 v) {
        uint256 fee = 1e18 + 1e15 * uint256(rows);
        fundOpen(alice, fee);
        vm.startPrank(alice);
        open.approve(address(datanets), fee);
        v = datanets.publishVersion(id, keccak256(abi.encode(id, rows)), rows, "ipfs://rows");
        vm.stopPrank();
    }

    function test_constructorRejectsZero() public {
        vm.expectRevert(DatanetRegistry.ZeroAddress.selector);
        new DatanetRegistry(open, ProtocolParams(address(0)));
    }

    function test_createDatanet() public {
        vm.expectEmit(address(datanets));
        emit DatanetCreated(1, alice, true, DatanetRegistry.Policy.AllowList, "MIT", "ipfs://m", keccak256("m"));
        uint256 id = _create(true);
        assertEq(id, 1);
        assertEq(_create(false), 2);
        assertEq(datanets.datanetCount(), 2);
        DatanetRegistry.Datanet memory d = datanets.getDatanet(1);
        assertEq(d.owner, alice);
        assertTrue(d.permissioned);
        assertEq(uint256(d.policy), uint256(DatanetRegistry.Policy.AllowList));
        assertEq(d.license, "MIT");
        assertEq(d.metadataURI, "ipfs://m");
        assertEq(d.metadataHash, keccak256("m"));
        assertEq(uint256(d.versionCount), 0);
    }

    function test_revert_unknownDatanet() public {
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownDatanet.selector, 7));
        datanets.getDatanet(7);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownDatanet.selector, 7));
        datanets.hasAccess(7, alice);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownDatanet.selector, 7));
        datanets.isReviewer(7, alice);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownDatanet.selector, 7));
        datanets.updateMetadata(7, "x", bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownDatanet.selector, 0));
        datanets.publishVersion(0, keccak256("r"), 1, "x");
    }

    function test_updateMetadata() public {
        uint256 id = _create(false);
        vm.expectEmit(address(datanets));
        emit MetadataUpdated(id, "ipfs://m2", keccak256("m2"));
        vm.prank(alice);
        datanets.updateMetadata(id, "ipfs://m2", keccak256("m2"));
        DatanetRegistry.Datanet memory d = datanets.getDatanet(id);
        assertEq(d.metadataURI, "ipfs://m2");
        assertEq(uint256(d.versionCount), 0, "no new version");
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, id, bob));
        datanets.updateMetadata(id, "ipfs://evil", bytes32(0));
    }

    function test_accessPublicAndPermissioned() public {
        uint256 pub = _create(false);
        uint256 priv = _create(true);
        assertTrue(datanets.hasAccess(pub, bob));
        assertFalse(datanets.hasAccess(priv, bob));
        assertTrue(datanets.hasAccess(priv, alice), "owner always");
        vm.expectEmit(address(datanets));
        emit AccessGranted(priv, bob);
        vm.prank(alice);
        datanets.grantAccess(priv, bob);
        assertTrue(datanets.hasAccess(priv, bob));
        vm.expectEmit(address(datanets));
        emit AccessRevoked(priv, bob);
        vm.prank(alice);
        datanets.revokeAccess(priv, bob);
        assertFalse(datanets.hasAccess(priv, bob));
    }

    function test_revert_access() public {
        uint256 id = _create(true);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, id, bob));
        datanets.grantAccess(id, bob);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, id, bob));
        datanets.revokeAccess(id, bob);
        vm.startPrank(alice);
        vm.expectRevert(DatanetRegistry.ZeroAddress.selector);
        datanets.grantAccess(id, address(0));
        vm.expectRevert(DatanetRegistry.ZeroAddress.selector);
        datanets.revokeAccess(id, address(0));
        vm.stopPrank();
    }

    function test_reviewers() public {
        uint256 id = _create(false);
        assertFalse(datanets.isReviewer(id, bob));
        vm.expectEmit(address(datanets));
        emit ReviewerSet(id, bob, true);
        vm.prank(alice);
        datanets.setReviewer(id, bob, true);
        assertTrue(datanets.isReviewer(id, bob));
        vm.prank(alice);
        datanets.setReviewer(id, bob, false);
        assertFalse(datanets.isReviewer(id, bob));
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, id, bob));
        datanets.setReviewer(id, bob, true);
        vm.prank(alice);
        vm.expectRevert(DatanetRegistry.ZeroAddress.selector);
        datanets.setReviewer(id, address(0), true);
    }

    function test_publishVersionChargesFee() public {
        uint256 id = _create(false);
        fundOpen(alice, 2e18);
        uint256 before = open.balanceOf(treasury);
        vm.startPrank(alice);
        open.approve(address(datanets), 2e18);
        vm.expectEmit(address(datanets));
        emit VersionPublished(id, 1, keccak256("r1"), 100, "ipfs://v1", 1e18 + 100 * 1e15);
        uint32 v = datanets.publishVersion(id, keccak256("r1"), 100, "ipfs://v1");
        vm.stopPrank();
        assertEq(uint256(v), 1);
        assertEq(open.balanceOf(treasury), before + 1.1e18, "fee to the treasury");
        assertEq(open.balanceOf(alice), 2e18 - 1.1e18);
        DatanetRegistry.Version memory ver = datanets.getVersion(id, 1);
        assertEq(ver.root, keccak256("r1"));
        assertEq(uint256(ver.rowCount), 100);
        assertEq(uint256(ver.publishedAt), block.timestamp);
        assertEq(ver.contentURI, "ipfs://v1");
        assertEq(uint256(datanets.getDatanet(id).versionCount), 1);
        assertEq(uint256(_publish(id, 5)), 2);
        assertTrue(datanets.versionExists(id, 2));
        assertFalse(datanets.versionExists(id, 3));
        assertFalse(datanets.versionExists(id, 0));
        assertFalse(datanets.versionExists(99, 1));
    }

    function test_publishWithZeroFeeNeedsNoAllowance() public {
        ProtocolParams.Params memory p = defaultParams(treasury);
        p.publishFeeBase = 0;
        p.publishFeePerRow = 0;
        ProtocolParams free = new ProtocolParams(gov, p);
        DatanetRegistry reg = new DatanetRegistry(open, free);
        vm.startPrank(alice);
        uint256 id = reg.createDatanet("u", bytes32(0), "MIT", false, DatanetRegistry.Policy.Open);
        reg.publishVersion(id, keccak256("r"), 1_000_000, "c");
        vm.stopPrank();
        assertEq(uint256(reg.getDatanet(id).versionCount), 1);
    }

    function test_revert_publish() public {
        uint256 id = _create(false);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, id, bob));
        datanets.publishVersion(id, keccak256("r"), 1, "c");
        vm.prank(alice);
        vm.expectRevert(DatanetRegistry.EmptyRoot.selector);
        datanets.publishVersion(id, bytes32(0), 1, "c");
        vm.prank(alice); // no allowance / no OPEN
        vm.expectRevert();
        datanets.publishVersion(id, keccak256("r"), 1, "c");
        assertEq(uint256(datanets.getDatanet(id).versionCount), 0, "nothing stored");
    }

    function test_recordContributions() public {
        uint256 id = _create(false);
        _publish(id, 3);
        DatanetRegistry.Contribution[] memory cs = new DatanetRegistry.Contribution[](2);
        cs[0] = DatanetRegistry.Contribution({contributor: bob, contentHash: keccak256("row1")});
        cs[1] = DatanetRegistry.Contribution({contributor: carol, contentHash: keccak256("row2")});
        vm.expectEmit(address(datanets));
        emit ContributionRecorded(id, 1, bob, keccak256("row1"));
        vm.expectEmit(address(datanets));
        emit ContributionRecorded(id, 1, carol, keccak256("row2"));
        vm.prank(alice);
        datanets.recordContributions(id, 1, cs);
        assertEq(datanets.contributionCount(id, 1), 2);
        vm.prank(alice);
        datanets.recordContributions(id, 1, cs);
        assertEq(datanets.contributionCount(id, 1), 4);
    }

    function test_revert_recordContributions() public {
        uint256 id = _create(false);
        DatanetRegistry.Contribution[] memory cs = new DatanetRegistry.Contribution[](1);
        cs[0] = DatanetRegistry.Contribution({contributor: bob, contentHash: keccak256("row1")});
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownVersion.selector, id, 1));
        datanets.recordContributions(id, 1, cs);
        _publish(id, 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownVersion.selector, id, 0));
        datanets.recordContributions(id, 0, cs);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, id, bob));
        datanets.recordContributions(id, 1, cs);
        cs[0].contributor = address(0);
        vm.prank(alice);
        vm.expectRevert(DatanetRegistry.ZeroAddress.selector);
        datanets.recordContributions(id, 1, cs);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownVersion.selector, id, 2));
        datanets.getVersion(id, 2);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownVersion.selector, id, 2));
        datanets.contributionCount(id, 2);
    }

    function testFuzz_publishFee(uint64 rows) public {
        rows = uint64(bound(rows, 0, 1e9));
        uint256 id = _create(false);
        uint256 fee = 1e18 + 1e15 * uint256(rows);
        fundOpen(alice, fee);
        uint256 before = open.balanceOf(treasury);
        vm.startPrank(alice);
        open.approve(address(datanets), fee);
        datanets.publishVersion(id, keccak256("r"), rows, "c");
        vm.stopPrank();
        assertEq(open.balanceOf(treasury), before + fee);
        assertEq(open.balanceOf(alice), 0);
    }
}
