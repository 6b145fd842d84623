// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "./Test.sol";
import {Merkle} from "./Merkle.sol";
import {OpenToken} from "../../src/OpenToken.sol";
import {ProtocolParams} from "../../src/ProtocolParams.sol";
import {Staking} from "../../src/Staking.sol";
import {DatanetRegistry} from "../../src/DatanetRegistry.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {RewardDistributor} from "../../src/RewardDistributor.sol";
import {InferenceEscrow} from "../../src/InferenceEscrow.sol";

/// @notice The protocol deployed and wired as in docs/protocol.md, with `gov` (a plain address the
///         tests can prank) in the governance seat. The governance test uses the real timelock.
abstract contract Fixture is Test {
    OpenToken internal open;
    ProtocolParams internal params;
    Staking internal staking;
    DatanetRegistry internal datanets;
    ModelRegistry internal models;
    RewardDistributor internal rewards;
    InferenceEscrow internal escrow;

    address internal treasury = makeAddr("treasury");
    address internal gov = makeAddr("gov");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal carol = makeAddr("carol");
    address internal operator = makeAddr("operator");
    address internal settler = makeAddr("settler");
    address internal modelOwner = makeAddr("modelOwner");

    uint256 internal constant SUPPLY = 1_000_000_000e18;

    function defaultParams(address treasury_) internal pure returns (ProtocolParams.Params memory p) {
        p = ProtocolParams.Params({
            ownerBps: 3_000,
            stakersBps: 1_000,
            contributorsBps: 6_000,
            platformFee: 1e15,
            treasury: treasury_,
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

    function deployProtocol(address governance) internal {
        open = new OpenToken(treasury);
        params = new ProtocolParams(governance, defaultParams(treasury));
        staking = new Staking(open, params, governance);
        datanets = new DatanetRegistry(open, params);
        models = new ModelRegistry(datanets);
        rewards = new RewardDistributor(open, params, staking, governance);
        escrow = new InferenceEscrow(open, params, staking, models, rewards);
        params.setEpochClock(address(rewards));
        rewards.setEscrow(address(escrow));
        staking.setSlasher(address(rewards));
        vm.label(address(open), "OpenToken");
        vm.label(address(params), "ProtocolParams");
        vm.label(address(staking), "Staking");
        vm.label(address(datanets), "DatanetRegistry");
        vm.label(address(models), "ModelRegistry");
        vm.label(address(rewards), "RewardDistributor");
        vm.label(address(escrow), "InferenceEscrow");
    }

    /// @dev Gives `to` `amount` OPEN from the treasury.
    function fundOpen(address to, uint256 amount) internal {
        vm.prank(treasury);
        open.transfer(to, amount);
    }

    function stakeAs(address who, Staking.Role role, uint256 amount) internal {
        fundOpen(who, amount);
        vm.startPrank(who);
        open.approve(address(staking), amount);
        staking.stake(role, amount);
        vm.stopPrank();
    }

    function depositAs(address who, uint256 amount) internal {
        fundOpen(who, amount);
        vm.startPrank(who);
        open.approve(address(escrow), amount);
        escrow.deposit(amount);
        vm.stopPrank();
    }

    /// @dev Creates a datanet with one version and registers a model on it, owned by `modelOwner`.
    function registerModelFixture() internal returns (uint256 modelId) {
        vm.prank(alice);
        uint256 id = datanets.createDatanet("ipfs://meta", keccak256("meta"), "CC-BY-4.0", false, DatanetRegistry.Policy.Open);
        uint256 fee = 1e18 + 1e15 * 10;
        fundOpen(alice, fee);
        vm.startPrank(alice);
        open.approve(address(datanets), fee);
        datanets.publishVersion(id, keccak256("root"), 10, "ipfs://rows");
        vm.stopPrank();
        ModelRegistry.DatanetVersionRef[] memory refs = new ModelRegistry.DatanetVersionRef[](1);
        refs[0] = ModelRegistry.DatanetVersionRef({datanetId: id, version: 1});
        vm.prank(modelOwner);
        modelId = models.registerModel(
            ModelRegistry.ModelInput({
                baseModelHash: keccak256("base"),
                adapterHash: keccak256("adapter"),
                trainingConfigHash: keccak256("config"),
                attributionIndexHash: keccak256("index"),
                pricePerKInput: 1e15,
                pricePerKOutput: 2e15,
                uri: "ipfs://model",
                datanets: refs
            })
        );
    }

    function signVoucher(uint256 key, InferenceEscrow.Voucher memory v) internal view returns (bytes memory) {
        (uint8 sv, bytes32 r, bytes32 s) = vm.sign(key, escrow.hashVoucher(v));
        return abi.encodePacked(r, s, sv);
    }

    /// @dev The reward leaf RewardDistributor.claim checks (StandardMerkleTree of
    ///      ["uint256","address","uint256"]): `index` is the leaf's position in the reward list.
    function leafOf(uint256 index, address account, uint256 amount) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))));
    }

    /// @dev Funds the current epoch's pool with `amount` (as the escrow would).
    function fundPool(uint256 amount) internal {
        fundOpen(address(escrow), amount);
        vm.prank(address(escrow));
        rewards.fund(amount);
    }

    /// @dev Posts `root`/`total` for the current epoch as `settler` and returns the epoch.
    function postAs(address who, bytes32 root, uint256 total) internal returns (uint256 epoch) {
        epoch = rewards.currentEpoch();
        vm.prank(who);
        rewards.postRoot(epoch, root, total, "ipfs://rewards");
    }

    function buildTree(address[] memory accounts, uint256[] memory amounts)
        internal
        pure
        returns (bytes32[] memory leaves, bytes32 root)
    {
        leaves = new bytes32[](accounts.length);
        for (uint256 i = 0; i < accounts.length; i++) {
            leaves[i] = leafOf(i, accounts[i], amounts[i]);
        }
        root = Merkle.root(leaves);
    }
}
