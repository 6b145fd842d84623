// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {DatanetRegistry} from "../src/DatanetRegistry.sol";

contract ModelRegistryTest is Fixture {
    event ModelRegistered(
        uint256 indexed id,
        address indexed owner,
        bytes32 baseModelHash,
        bytes32 adapterHash,
        bytes32 trainingConfigHash,
        bytes32 attributionIndexHash,
        string uri
    );
    event LineageRecorded(uint256 indexed id, uint256 indexed datanetId, uint32 version);
    event PriceSet(uint256 indexed id, uint128 pricePerKInput, uint128 pricePerKOutput);
    event Deprecated(uint256 indexed id);

    function setUp() public {
        deployProtocol(gov);
    }

    function _input(ModelRegistry.DatanetVersionRef[] memory refs)
        internal
        pure
        returns (ModelRegistry.ModelInput memory)
    {
        return ModelRegistry.ModelInput({
            baseModelHash: keccak256("base"),
            adapterHash: keccak256("adapter"),
            trainingConfigHash: keccak256("config"),
            attributionIndexHash: keccak256("index"),
            pricePerKInput: 5,
            pricePerKOutput: 7,
            uri: "ipfs://m",
            datanets: refs
        });
    }

    function test_constructorRejectsZero() public {
        vm.expectRevert(ModelRegistry.ZeroAddress.selector);
        new ModelRegistry(DatanetRegistry(address(0)));
    }

    function test_registerWithLineage() public {
        uint256 first = registerModelFixture();
        assertEq(first, 1);
        ModelRegistry.DatanetVersionRef[] memory refs = new ModelRegistry.DatanetVersionRef[](1);
        refs[0] = ModelRegistry.DatanetVersionRef({datanetId: 1, version: 1});
        vm.expectEmit(address(models));
        emit LineageRecorded(2, 1, 1);
        vm.expectEmit(address(models));
        emit ModelRegistered(
            2, bob, keccak256("base"), keccak256("adapter"), keccak256("config"), keccak256("index"), "ipfs://m"
        );
        vm.expectEmit(address(models));
        emit PriceSet(2, 5, 7);
        vm.prank(bob);
        uint256 id = models.registerModel(_input(refs));
        assertEq(id, 2);
        assertEq(models.modelCount(), 2);
        (
            address owner,
            bytes32 base,
            bytes32 adapter,
            bytes32 config,
            bytes32 index,
            uint128 pin,
            uint128 pout,
            string memory uri,
            bool deprecated
        ) = models.getModel(id);
        assertEq(owner, bob);
        assertEq(base, keccak256("base"));
        assertEq(adapter, keccak256("adapter"));
        assertEq(config, keccak256("config"));
        assertEq(index, keccak256("index"));
        assertEq(uint256(pin), 5);
        assertEq(uint256(pout), 7);
        assertEq(uri, "ipfs://m");
        assertFalse(deprecated);
        ModelRegistry.DatanetVersionRef[] memory lineage = models.getLineage(id);
        assertEq(lineage.length, 1);
        assertEq(lineage[0].datanetId, 1);
        assertEq(uint256(lineage[0].version), 1);
        assertEq(models.ownerOf(id), bob);
    }

    function test_registerWithoutLineage() public {
        vm.prank(bob);
        uint256 id = models.registerModel(_input(new ModelRegistry.DatanetVersionRef[](0)));
        assertEq(models.getLineage(id).length, 0);
    }

    function test_revert_unknownDatanetVersion() public {
        registerModelFixture();
        ModelRegistry.DatanetVersionRef[] memory refs = new ModelRegistry.DatanetVersionRef[](2);
        refs[0] = ModelRegistry.DatanetVersionRef({datanetId: 1, version: 1});
        refs[1] = ModelRegistry.DatanetVersionRef({datanetId: 1, version: 2});
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownDatanetVersion.selector, 1, 2));
        models.registerModel(_input(refs));
        refs[1] = ModelRegistry.DatanetVersionRef({datanetId: 9, version: 1});
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownDatanetVersion.selector, 9, 1));
        models.registerModel(_input(refs));
        refs[1] = ModelRegistry.DatanetVersionRef({datanetId: 1, version: 0});
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownDatanetVersion.selector, 1, 0));
        models.registerModel(_input(refs));
        assertEq(models.modelCount(), 1, "nothing stored");
    }

    function test_setPrice() public {
        uint256 id = registerModelFixture();
        vm.expectEmit(address(models));
        emit PriceSet(id, 11, 13);
        vm.prank(modelOwner);
        models.setPrice(id, 11, 13);
        (,,,,, uint128 pin, uint128 pout,,) = models.getModel(id);
        assertEq(uint256(pin), 11);
        assertEq(uint256(pout), 13);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotModelOwner.selector, id, bob));
        models.setPrice(id, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownModel.selector, 42));
        models.setPrice(42, 1, 1);
    }

    function test_deprecate() public {
        uint256 id = registerModelFixture();
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotModelOwner.selector, id, bob));
        models.deprecate(id);
        vm.expectEmit(address(models));
        emit Deprecated(id);
        vm.prank(modelOwner);
        models.deprecate(id);
        (,,,,,,,, bool deprecated) = models.getModel(id);
        assertTrue(deprecated);
        vm.prank(modelOwner);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelDeprecated.selector, id));
        models.deprecate(id);
        vm.prank(modelOwner);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelDeprecated.selector, id));
        models.setPrice(id, 1, 1);
        assertEq(models.getLineage(id).length, 1, "lineage stays readable");
    }

    function test_revert_unknownModel() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownModel.selector, 0));
        models.getModel(0);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownModel.selector, 1));
        models.getLineage(1);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownModel.selector, 1));
        models.ownerOf(1);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownModel.selector, 1));
        models.deprecate(1);
    }

    function testFuzz_registerManyRefs(uint8 n) public {
        n = uint8(bound(n, 1, 20));
        registerModelFixture();
        ModelRegistry.DatanetVersionRef[] memory refs = new ModelRegistry.DatanetVersionRef[](n);
        for (uint256 i = 0; i < n; i++) {
            refs[i] = ModelRegistry.DatanetVersionRef({datanetId: 1, version: 1});
        }
        uint256 id = models.registerModel(_input(refs));
        assertEq(models.getLineage(id).length, n);
    }
}
