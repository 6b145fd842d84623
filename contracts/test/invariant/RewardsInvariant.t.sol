// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "../utils/Test.sol";
import {Fixture} from "../utils/Fixture.sol";
import {Merkle} from "../utils/Merkle.sol";
import {OpenToken} from "../../src/OpenToken.sol";
import {RewardDistributor} from "../../src/RewardDistributor.sol";
import {Staking} from "../../src/Staking.sol";

contract RewardsHandler is Test {
    OpenToken internal open;
    RewardDistributor internal rewards;
    Staking internal staking;
    address internal escrow;
    address internal settler;
    address internal gov;
    address[] public actors;

    uint256[] public postedEpochs;
    mapping(uint256 epoch => uint256[]) internal _amounts;
    mapping(uint256 epoch => mapping(uint256 index => uint256)) public claimCount;
    uint256 public duplicateClaims;
    uint256[] internal pendingChallenges;
    uint256 public voided;
    uint256 public ghostFunded;
    uint256 public ghostClaimed;
    uint256 public ghostBonds;

    constructor(
        OpenToken open_,
        RewardDistributor rewards_,
        Staking staking_,
        address escrow_,
        address settler_,
        address gov_,
        address[] memory actors_
    ) {
        open = open_;
        rewards = rewards_;
        staking = staking_;
        escrow = escrow_;
        settler = settler_;
        gov = gov_;
        actors = actors_;
        open_.approve(address(rewards_), type(uint256).max); // challenge bonds
    }

    function _leaves(uint256 epoch) internal view returns (bytes32[] memory leaves) {
        uint256[] storage amounts = _amounts[epoch];
        leaves = new bytes32[](actors.length);
        for (uint256 i = 0; i < actors.length; i++) {
            leaves[i] = keccak256(bytes.concat(keccak256(abi.encode(i, actors[i], amounts[i]))));
        }
    }

    function fund(uint256 amount) external {
        amount = bound(amount, 1, 1_000e18);
        vm.prank(escrow);
        rewards.fund(amount);
        ghostFunded += amount;
    }

    /// Posts a tree paying each actor a random share; `overclaim` makes the leaves sum to more
    /// than the posted total (a faulty settler), which claims must not be able to exploit.
    function postRoot(uint256 seed, bool overclaim) external {
        if (!staking.isActive(settler, Staking.Role.Settler)) {
            vm.startPrank(settler);
            open.approve(address(staking), 10_000e18);
            staking.stake(Staking.Role.Settler, 10_000e18);
            vm.stopPrank();
        }
        uint256 epoch = rewards.currentEpoch();
        uint256 available = rewards.pool(epoch) + rewards.carry();
        uint256 sum;
        for (uint256 i = 0; i < actors.length; i++) {
            uint256 a = uint256(keccak256(abi.encode(seed, i))) % (available / actors.length + 1);
            _amounts[epoch].push(a);
            sum += a;
        }
        uint256 total = overclaim ? sum / 2 : sum;
        bytes32 root = Merkle.root(_leaves(epoch));
        vm.prank(settler);
        rewards.postRoot(epoch, root, total, "ipfs://r");
        postedEpochs.push(epoch);
    }

    function claim(uint256 epochSeed, uint256 actorSeed) external {
        if (postedEpochs.length == 0) return;
        uint256 epoch = postedEpochs[epochSeed % postedEpochs.length];
        uint256 i = actorSeed % actors.length;
        address account = actors[i];
        uint256 amount = _amounts[epoch][i];
        bytes32[] memory proof = Merkle.proof(_leaves(epoch), i);
        uint256 before = open.balanceOf(account);
        try rewards.claim(epoch, i, account, amount, proof) {
            if (claimCount[epoch][i]++ > 0) duplicateClaims++;
            ghostClaimed += open.balanceOf(account) - before;
        } catch {}
    }

    /// Prepares claimed-flag words (anyone may), which must never mark a leaf claimed.
    function prepare(uint256 epochSeed, uint256 firstWord, uint256 count) external {
        if (postedEpochs.length == 0) return;
        uint256 epoch = postedEpochs[epochSeed % postedEpochs.length];
        try rewards.prepareClaims(epoch, bound(firstWord, 0, 2), bound(count, 1, 3)) {} catch {}
    }

    /// Challenges one of the latest roots (older ones are usually past their window).
    function challenge(uint256 epochSeed) external {
        uint256 n = postedEpochs.length;
        if (n == 0) return;
        uint256 epoch = postedEpochs[n - 1 - (epochSeed % (n < 3 ? n : 3))];
        uint256 before = open.balanceOf(address(this));
        try rewards.challenge(epoch, "ipfs://evidence") {
            ghostBonds += before - open.balanceOf(address(this));
            pendingChallenges.push(epoch);
        } catch {}
    }

    function resolve(uint256 seed, bool valid) external {
        uint256 n = pendingChallenges.length;
        if (n == 0) return;
        uint256 epoch = pendingChallenges[seed % n];
        pendingChallenges[seed % n] = pendingChallenges[n - 1];
        pendingChallenges.pop();
        (, uint256 bond) = rewards.challengeOf(epoch);
        vm.prank(gov);
        rewards.resolveChallenge(epoch, valid);
        ghostBonds -= bond;
        if (!valid) voided++;
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 1, 2 hours));
    }

    function postedCount() external view returns (uint256) {
        return postedEpochs.length;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }
}

/// Invariants: per epoch claimed <= total; no leaf claims twice; the distributor holds exactly the
/// carry, the open pool and what posted, unvoided epochs still owe.
contract RewardsInvariantTest is Fixture {
    RewardsHandler internal handler;

    function setUp() public {
        vm.warp(1_000_000);
        deployProtocol(gov);
        address[] memory actors = new address[](4);
        for (uint256 i = 0; i < actors.length; i++) {
            actors[i] = address(uint160(0xBEEF00 + i));
        }
        fundOpen(address(escrow), 10_000_000e18);
        fundOpen(settler, 10_000_000e18);
        handler = new RewardsHandler(open, rewards, staking, address(escrow), settler, gov, actors);
        fundOpen(address(handler), 1_000_000e18);
        targetContract(address(handler));
    }

    /// forge-config: default.invariant.runs = 48
    /// forge-config: default.invariant.depth = 40
    function invariant_claimedWithinTotalAndOnce() public view {
        assertEq(handler.duplicateClaims(), 0, "a leaf was claimed twice");
        for (uint256 k = 0; k < handler.postedCount(); k++) {
            uint256 epoch = handler.postedEpochs(k);
            (, uint256 total, uint256 claimed,,,,,) = rewards.epochInfo(epoch);
            assertLe(claimed, total, "claimed <= total");
            for (uint256 i = 0; i < handler.actorCount(); i++) {
                assertLe(handler.claimCount(epoch, i), 1, "once per leaf per epoch");
                assertEq(rewards.isClaimed(epoch, i), handler.claimCount(epoch, i) == 1, "isClaimed");
            }
        }
    }

    /// forge-config: default.invariant.runs = 48
    /// forge-config: default.invariant.depth = 40
    function invariant_distributorSolvent() public view {
        uint256 owed = rewards.carry() + rewards.pool(rewards.currentEpoch()) + rewards.heldBonds();
        for (uint256 k = 0; k < handler.postedCount(); k++) {
            uint256 epoch = handler.postedEpochs(k);
            (, uint256 total, uint256 claimed,,,,, bool voided) = rewards.epochInfo(epoch);
            if (!voided) owed += total - claimed;
        }
        assertEq(open.balanceOf(address(rewards)), owed, "balance == carry + pool + unclaimed + bonds");
        assertEq(
            open.balanceOf(address(rewards)),
            handler.ghostFunded() - handler.ghostClaimed() + handler.ghostBonds(),
            "funded - claimed + bonds held"
        );
        assertEq(rewards.heldBonds(), handler.ghostBonds(), "bonds held");
    }
}
