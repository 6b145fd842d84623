// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {RewardDistributor} from "../src/RewardDistributor.sol";
import {Staking} from "../src/Staking.sol";
import {ProtocolParams} from "../src/ProtocolParams.sol";

contract RewardDistributorTest is Fixture {
    event EscrowSet(address escrow);
    event Funded(uint256 indexed epoch, uint256 amount);
    event RootPosted(
        uint256 indexed epoch,
        bytes32 root,
        uint256 total,
        address indexed settler,
        string uri,
        uint256 carry,
        uint256 claimableAt
    );
    event Claimed(uint256 indexed epoch, uint256 index, address indexed account, uint256 amount);
    event Challenged(uint256 indexed epoch, address indexed challenger, uint256 bond, string evidenceURI);
    event ClaimsPrepared(uint256 indexed epoch, uint256 firstWord, uint256 count);
    event ChallengeResolved(
        uint256 indexed epoch, bool rootValid, uint256 returned, uint256 slashed, address bondTo, uint256 bond
    );

    address[] internal accounts;
    uint256[] internal amounts;
    bytes32[] internal leaves;
    bytes32 internal root;

    function setUp() public {
        vm.warp(1_000_000);
        deployProtocol(gov);
        stakeAs(settler, Staking.Role.Settler, 2_000e18);
        accounts = [alice, bob, carol];
        amounts = [uint256(10e18), 20e18, 30e18];
        (leaves, root) = buildTree(accounts, amounts);
    }

    function _postDefault() internal returns (uint256 epoch) {
        fundPool(60e18);
        epoch = postAs(settler, root, 60e18);
    }

    uint256 internal constant BOND = 100e18;

    /// @dev Gives `who` the challenge bond, approves it and challenges.
    function _challengeAs(address who, uint256 epoch, string memory evidence) internal {
        fundOpen(who, BOND);
        vm.startPrank(who);
        open.approve(address(rewards), BOND);
        rewards.challenge(epoch, evidence);
        vm.stopPrank();
    }

    function _claim(uint256 epoch, uint256 i) internal {
        rewards.claim(epoch, i, accounts[i], amounts[i], Merkle.proof(leaves, i));
    }

    function test_constructorRejectsZero() public {
        vm.expectRevert(RewardDistributor.ZeroAddress.selector);
        new RewardDistributor(open, params, staking, address(0));
        vm.expectRevert(RewardDistributor.ZeroAddress.selector);
        new RewardDistributor(open, params, Staking(address(0)), gov);
    }

    function test_initialState() public view {
        assertEq(rewards.currentEpoch(), 1);
        assertEq(params.currentEpoch(), 1, "ProtocolParams reads the distributor's clock");
        assertEq(rewards.escrow(), address(escrow));
        assertEq(rewards.carry(), 0);
    }

    function test_setEscrowOnce() public {
        RewardDistributor rd = new RewardDistributor(open, params, staking, gov);
        vm.prank(alice);
        vm.expectRevert(RewardDistributor.Unauthorized.selector);
        rd.setEscrow(alice);
        vm.expectRevert(RewardDistributor.ZeroAddress.selector);
        rd.setEscrow(address(0));
        vm.expectEmit(address(rd));
        emit EscrowSet(alice);
        rd.setEscrow(alice);
        vm.expectRevert(RewardDistributor.EscrowAlreadySet.selector);
        rd.setEscrow(bob);
    }

    function test_fund() public {
        fundOpen(address(escrow), 5e18);
        vm.expectEmit(address(rewards));
        emit Funded(1, 5e18);
        vm.prank(address(escrow));
        rewards.fund(5e18);
        assertEq(rewards.pool(1), 5e18);
        assertEq(open.balanceOf(address(rewards)), 5e18);
    }

    function test_revert_fund() public {
        vm.expectRevert(RewardDistributor.NotEscrow.selector);
        rewards.fund(1);
        vm.prank(address(escrow));
        vm.expectRevert(RewardDistributor.ZeroAmount.selector);
        rewards.fund(0);
    }

    function test_postRootAdvancesEpochAndCarries() public {
        fundPool(100e18);
        vm.expectEmit(address(rewards));
        emit RootPosted(1, root, 60e18, settler, "ipfs://rewards", 40e18, block.timestamp + 1 hours);
        uint256 epoch = postAs(settler, root, 60e18);
        assertEq(epoch, 1);
        assertEq(rewards.currentEpoch(), 2);
        assertEq(params.currentEpoch(), 2);
        assertEq(rewards.carry(), 40e18);
        (bytes32 r, uint256 total, uint256 claimed, uint64 postedAt, address s, string memory uri, bool ch, bool vo) =
            rewards.epochInfo(1);
        assertEq(r, root);
        assertEq(total, 60e18);
        assertEq(claimed, 0);
        assertEq(uint256(postedAt), block.timestamp);
        assertEq(s, settler);
        assertEq(uri, "ipfs://rewards");
        assertFalse(ch);
        assertFalse(vo);
        assertEq(rewards.claimableAt(1), block.timestamp + 1 hours);
        // the carry funds the next epoch
        assertEq(postAs(settler, root, 40e18), 2);
        assertEq(rewards.carry(), 0);
    }

    function test_revert_postRoot() public {
        fundPool(10e18);
        vm.prank(settler);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.WrongEpoch.selector, 1, 2));
        rewards.postRoot(2, root, 1, "");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.SettlerNotStaked.selector, alice));
        rewards.postRoot(1, root, 1, "");
        stakeAs(alice, Staking.Role.Operator, 5_000e18);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.SettlerNotStaked.selector, alice));
        rewards.postRoot(1, root, 1, ""); // an operator stake does not make a settler
        vm.prank(settler);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.TotalExceedsPool.selector, 10e18 + 1, 10e18));
        rewards.postRoot(1, root, 10e18 + 1, "");
        postAs(settler, root, 10e18);
        vm.prank(settler);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.WrongEpoch.selector, 2, 1));
        rewards.postRoot(1, root, 0, "");
    }

    function test_claimAfterWindow() public {
        uint256 epoch = _postDefault();
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.ChallengeWindowOpen.selector, block.timestamp + 1 hours));
        _claim(epoch, 0);
        vm.warp(block.timestamp + 1 hours);
        vm.expectEmit(address(rewards));
        emit Claimed(epoch, 0, alice, 10e18);
        _claim(epoch, 0);
        assertEq(open.balanceOf(alice), 10e18);
        assertTrue(rewards.isClaimed(epoch, 0));
        assertFalse(rewards.isClaimed(epoch, 1));
        vm.prank(carol); // anyone may submit; the OPEN goes to the account
        _claim(epoch, 1);
        assertEq(open.balanceOf(bob), 20e18);
        _claim(epoch, 2);
        (, uint256 total, uint256 claimed,,,,,) = rewards.epochInfo(epoch);
        assertEq(claimed, total);
        assertEq(open.balanceOf(address(rewards)), 0);
    }

    function test_revert_claim() public {
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EpochNotPosted.selector, 1));
        _claim(1, 0);
        uint256 epoch = _postDefault();
        vm.warp(block.timestamp + 1 hours);
        bytes32[] memory proof = Merkle.proof(leaves, 0);
        vm.expectRevert(RewardDistributor.InvalidProof.selector);
        rewards.claim(epoch, 0, alice, 11e18, proof); // wrong amount
        vm.expectRevert(RewardDistributor.InvalidProof.selector);
        rewards.claim(epoch, 0, bob, 10e18, proof); // wrong account
        vm.expectRevert(RewardDistributor.InvalidProof.selector);
        rewards.claim(epoch, 1, alice, 10e18, proof); // wrong index (another leaf's bit)
        vm.expectRevert(RewardDistributor.InvalidProof.selector);
        rewards.claim(epoch, 0, alice, 10e18, new bytes32[](0));
        assertFalse(rewards.isClaimed(epoch, 1), "a failed claim sets no bit");
        _claim(epoch, 0);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.AlreadyClaimed.selector, epoch, 0));
        _claim(epoch, 0);
    }

    function test_revert_claimBeyondTotal() public {
        // a root whose leaves sum to more than its posted total cannot drain other epochs
        fundPool(100e18);
        uint256 epoch = postAs(settler, root, 25e18);
        vm.warp(block.timestamp + 1 hours);
        _claim(epoch, 0); // 10
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.ClaimExceedsTotal.selector, epoch));
        _claim(epoch, 1); // 20 > 15 left
    }

    function test_claimsAcrossManyEpochs() public {
        for (uint256 i = 0; i < 300; i++) {
            fundPool(60e18);
            postAs(settler, root, 60e18);
        }
        vm.warp(block.timestamp + 1 hours);
        _claim(1, 0);
        _claim(256, 0);
        _claim(257, 0);
        assertTrue(rewards.isClaimed(256, 0));
        assertFalse(rewards.isClaimed(255, 0), "each epoch has its own bitmap");
        assertFalse(rewards.isClaimed(256, 1));
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.AlreadyClaimed.selector, 256, 0));
        _claim(256, 0);
        _claim(255, 0);
    }

    function test_challengeFreezesAndValidResumes() public {
        uint256 epoch = _postDefault();
        fundOpen(bob, BOND);
        vm.prank(bob);
        open.approve(address(rewards), BOND);
        vm.expectEmit(address(rewards));
        emit Challenged(epoch, bob, BOND, "ipfs://evidence");
        vm.prank(bob);
        rewards.challenge(epoch, "ipfs://evidence");
        (,,,,,, bool challenged,) = rewards.epochInfo(epoch);
        assertTrue(challenged);
        assertEq(open.balanceOf(bob), 0, "the bond is held");
        assertEq(rewards.heldBonds(), BOND);
        (address challenger, uint256 bond) = rewards.challengeOf(epoch);
        assertEq(challenger, bob);
        assertEq(bond, BOND);
        uint256 treasuryBefore = open.balanceOf(treasury);
        vm.warp(block.timestamp + 2 hours);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EpochChallenged.selector, epoch));
        _claim(epoch, 0);
        vm.expectRevert(RewardDistributor.Unauthorized.selector);
        rewards.resolveChallenge(epoch, true);
        vm.expectEmit(address(rewards));
        emit ChallengeResolved(epoch, true, 0, 0, treasury, BOND);
        vm.prank(gov);
        rewards.resolveChallenge(epoch, true);
        assertEq(open.balanceOf(treasury), treasuryBefore + BOND, "a wrong challenge loses its bond");
        assertEq(rewards.heldBonds(), 0);
        (challenger,) = rewards.challengeOf(epoch);
        assertEq(challenger, address(0), "no challenge pending");
        _claim(epoch, 0);
        assertEq(open.balanceOf(alice), 10e18);
    }

    function test_invalidRootIsVoidedAndSettlerSlashed() public {
        uint256 epoch = _postDefault();
        _challengeAs(bob, epoch, "ipfs://evidence");
        uint256 treasuryBefore = open.balanceOf(treasury);
        vm.expectEmit(address(rewards));
        emit ChallengeResolved(epoch, false, 60e18, 1_000e18, bob, BOND);
        vm.prank(gov);
        rewards.resolveChallenge(epoch, false);
        assertEq(open.balanceOf(bob), BOND, "a right challenge gets its bond back");
        assertEq(rewards.heldBonds(), 0);
        (,,,,,, bool challenged, bool voided) = rewards.epochInfo(epoch);
        assertFalse(challenged);
        assertTrue(voided);
        assertEq(rewards.carry(), 60e18, "total back to the carry");
        assertEq(staking.stakeOf(settler, Staking.Role.Settler), 1_000e18, "half slashed");
        assertEq(open.balanceOf(treasury), treasuryBefore + 1_000e18);
        vm.warp(block.timestamp + 2 hours);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EpochVoided.selector, epoch));
        _claim(epoch, 0);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EpochVoided.selector, epoch));
        rewards.challenge(epoch, "again");
        // the returned total can be posted again (correctly) in the next epoch
        assertEq(postAs(settler, root, 60e18), 2);
        vm.warp(block.timestamp + 1 hours);
        _claim(2, 0);
        assertEq(open.balanceOf(alice), 10e18);
    }

    function test_revert_challenge() public {
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EpochNotPosted.selector, 1));
        rewards.challenge(1, "e");
        uint256 epoch = _postDefault();
        vm.prank(bob); // no bond approved
        vm.expectRevert();
        rewards.challenge(epoch, "e");
        _challengeAs(bob, epoch, "e");
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EpochChallenged.selector, epoch));
        rewards.challenge(epoch, "e");
        vm.prank(gov);
        rewards.resolveChallenge(epoch, true);
        vm.expectRevert(RewardDistributor.ChallengeWindowClosed.selector);
        rewards.challenge(epoch, "e"); // judged valid: no second challenge
        vm.prank(gov);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.NotChallenged.selector, epoch));
        rewards.resolveChallenge(epoch, false);
        uint256 e2 = postAs(settler, root, 0);
        vm.warp(block.timestamp + 1 hours);
        vm.expectRevert(RewardDistributor.ChallengeWindowClosed.selector);
        rewards.challenge(e2, "late");
    }

    function test_matchesOpenZeppelinMerkleTree() public {
        // root and proofs produced by @openzeppelin/merkle-tree's StandardMerkleTree.of(values,
        // ["uint256","address","uint256"]) with values [0, 0x1111…, 1e18], [1, 0x2222…, 2.5e18],
        // [2, 0x3333…, 42]
        address a1 = 0x1111111111111111111111111111111111111111;
        address a3 = 0x3333333333333333333333333333333333333333;
        bytes32 jsRoot = 0xf5791704d3846a3d0e2af80a23fe676b33cf4a5a8060923bf3276ce8add4eae1;
        fundPool(3.5e18 + 42);
        uint256 epoch = postAs(settler, jsRoot, 3.5e18 + 42);
        vm.warp(block.timestamp + 1 hours);
        bytes32[] memory p1 = new bytes32[](1);
        p1[0] = 0xa5aefd5cf65e07cf31a3c21a62ffcedace11cafd87c2ec13354fba51792556ed;
        rewards.claim(epoch, 0, a1, 1e18, p1);
        bytes32[] memory p3 = new bytes32[](2);
        p3[0] = 0x191d0f7d65eab0fa6c201d27df14a838bda49373c2ccb0fa0263334fcebd4d0e;
        p3[1] = 0xeb728624ae06a51d14c3864a1c4dbf39cfa562f9784e4091328aa6ce23ae25bd;
        vm.expectRevert(RewardDistributor.InvalidProof.selector);
        rewards.claim(epoch, 1, a3, 42, p3); // the index is part of the leaf
        rewards.claim(epoch, 2, a3, 42, p3);
        assertEq(open.balanceOf(a1), 1e18);
        assertEq(open.balanceOf(a3), 42);
        assertTrue(rewards.isClaimed(epoch, 2));
        assertFalse(rewards.isClaimed(epoch, 1));
    }

    function test_postRootGasIndependentOfContributors() public {
        // postRoot stores the root, never the leaves: roots of a 10-leaf and a 10,000-leaf tree
        // cost the same. Epoch 1 warms up the contracts; epochs 2 and 3 are compared.
        fundPool(100e18);
        postAs(settler, keccak256("warm-up"), 1e18);
        bytes32[] memory small = new bytes32[](10);
        for (uint256 i = 0; i < small.length; i++) {
            small[i] = leafOf(i, address(uint160(0x1000 + i)), 1e15);
        }
        bytes32[] memory large = new bytes32[](10_000);
        for (uint256 i = 0; i < large.length; i++) {
            large[i] = leafOf(i, address(uint160(0x1000 + i)), 1e14);
        }
        vm.prank(settler);
        rewards.postRoot(2, Merkle.root(small), 1e16, "ipfs://rewards/2");
        uint256 gasSmall = vm.lastCallGas().gasTotalUsed;
        vm.prank(settler);
        rewards.postRoot(3, Merkle.root(large), 1e18, "ipfs://rewards/3");
        uint256 gasLarge = vm.lastCallGas().gasTotalUsed;
        assertEq(gasSmall, gasLarge, "postRoot gas does not depend on the number of contributors");
        emit log_named_uint("postRoot exec gas", gasLarge);
    }

    /// Claim in a tree of 10,000 leaves: execution gas measured with cold storage, transaction gas
    /// estimated by adding the 21,000 base and the calldata cost. The settler prepares the epoch's
    /// claimed-flag words after posting, so even the first claim of a word writes a nonzero word,
    /// and the worst claim is one to an account that never held OPEN (its balance is a fresh slot).
    /// Cases: that worst case on a prepared word (the < 90,000 target), a later claim of the same
    /// word, an account already holding OPEN, and the first claim of a word nobody prepared.
    function test_claimGasIn10kTree() public {
        uint256 n = 10_000;
        bytes32[] memory big = new bytes32[](n);
        uint256 total = 0;
        for (uint256 i = 0; i < n; i++) {
            big[i] = leafOf(i, address(uint160(0x10000 + i)), 1e18 + i);
            total += 1e18 + i;
        }
        bytes32 bigRoot = Merkle.root(big);
        fundPool(total);
        uint256 epoch = postAs(settler, bigRoot, total);
        uint256 words = (n + 254) / 255;
        rewards.prepareClaims(epoch, 0, 6); // leaves 0..1529; words 6.. stay unprepared here
        uint256 preparePerWord = vm.lastCallGas().gasTotalUsed / 6;
        emit log_named_uint("prepareClaims exec gas per word (255 leaves)", preparePerWord);
        assertEq(words, 40);
        vm.warp(block.timestamp + 1 hours);

        // index 1_300 is the first claim of word 5 (indices 1_275..1_529), prepared
        uint256 firstOfWord = _measureClaim(epoch, big, 1_300, "fresh account, first of its prepared word");
        uint256 fresh = _measureClaim(epoch, big, 1_301, "fresh account");
        fundOpen(address(uint160(0x10000 + 1_302)), 1); // holds OPEN already
        uint256 holder = _measureClaim(epoch, big, 1_302, "holder");
        // index 1_600 is in word 6 (indices 1_530..1_784), never prepared
        uint256 unprepared = _measureClaim(epoch, big, 1_600, "fresh account, first of an unprepared word");
        assertTrue(rewards.isClaimed(epoch, 1_300) && rewards.isClaimed(epoch, 1_301) && rewards.isClaimed(epoch, 1_302));
        assertFalse(rewards.isClaimed(epoch, 1_303));

        // Under `forge test --isolate` (each call a real transaction) the estimate runs ~2,500 low,
        // hence the margin.
        assertLt(firstOfWord + 2_500, 90_000, "worst claim tx gas on a prepared word");
        assertLt(fresh + 2_500, 90_000, "claim tx gas, fresh account");
        assertLt(holder + 2_500, 70_000, "claim tx gas, recipient with OPEN balance");
        // an unprepared word's first claim also takes the word from zero to nonzero (+17,100)
        assertGt(unprepared, firstOfWord + 15_000, "preparing saves the fresh-slot write");
        assertLt(preparePerWord, 25_000, "preparing costs one fresh slot per 255 leaves");
    }

    function test_prepareClaims() public {
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EpochNotPosted.selector, 1));
        rewards.prepareClaims(1, 0, 1);
        uint256 epoch = _postDefault();
        vm.expectRevert(RewardDistributor.ZeroAmount.selector);
        rewards.prepareClaims(epoch, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.TooManyWords.selector, 1_025, 1_024));
        rewards.prepareClaims(epoch, 0, 1_025);
        vm.expectEmit(address(rewards));
        emit ClaimsPrepared(epoch, 0, 2);
        vm.prank(alice); // anyone may
        rewards.prepareClaims(epoch, 0, 2);
        assertTrue(rewards.isPrepared(epoch, 0) && rewards.isPrepared(epoch, 1));
        assertFalse(rewards.isPrepared(epoch, 2));
        assertFalse(rewards.isPrepared(epoch + 1, 0), "per epoch");
        for (uint256 i = 0; i < 3; i++) {
            assertFalse(rewards.isClaimed(epoch, i), "preparing claims nothing");
        }
        assertFalse(rewards.isClaimed(epoch, 254) || rewards.isClaimed(epoch, 255) || rewards.isClaimed(epoch, 509));
        vm.warp(block.timestamp + 1 hours);
        _claim(epoch, 1);
        rewards.prepareClaims(epoch, 0, 1); // again: the claimed bit stays
        assertTrue(rewards.isClaimed(epoch, 1));
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.AlreadyClaimed.selector, epoch, 1));
        _claim(epoch, 1);
        _claim(epoch, 0);
        _claim(epoch, 2);
        assertEq(open.balanceOf(carol), 30e18);
    }

    function test_revert_prepareVoidedEpoch() public {
        uint256 epoch = _postDefault();
        _challengeAs(bob, epoch, "ipfs://evidence");
        vm.prank(gov);
        rewards.resolveChallenge(epoch, false);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EpochVoided.selector, epoch));
        rewards.prepareClaims(epoch, 0, 1);
    }

    /// Leaves on both sides of a word boundary (254 | 255) have their own bits.
    function test_claimedBitsAcrossWordBoundary() public {
        address[] memory accts = new address[](300);
        uint256[] memory amts = new uint256[](300);
        for (uint256 i = 0; i < 300; i++) {
            accts[i] = address(uint160(0x5000 + i));
            amts[i] = 1e18;
        }
        (bytes32[] memory lv, bytes32 r) = buildTree(accts, amts);
        fundPool(300e18);
        uint256 epoch = postAs(settler, r, 300e18);
        rewards.prepareClaims(epoch, 0, 2);
        vm.warp(block.timestamp + 1 hours);
        rewards.claim(epoch, 254, accts[254], 1e18, Merkle.proof(lv, 254));
        assertTrue(rewards.isClaimed(epoch, 254));
        assertFalse(rewards.isClaimed(epoch, 255));
        assertFalse(rewards.isClaimed(epoch, 253));
        rewards.claim(epoch, 255, accts[255], 1e18, Merkle.proof(lv, 255));
        assertTrue(rewards.isClaimed(epoch, 255));
        assertFalse(rewards.isClaimed(epoch, 256));
        assertFalse(rewards.isClaimed(epoch, 0), "bit 255 of word 0 is the mark, not leaf 255");
    }

    function _measureClaim(uint256 epoch, bytes32[] memory tree, uint256 i, string memory label)
        internal
        returns (uint256 txGas)
    {
        address account = address(uint160(0x10000 + i));
        uint256 amount = 1e18 + i;
        bytes32[] memory proof = Merkle.proof(tree, i);
        assertEq(proof.length, 14, "a 14-hash proof");
        _coolAll(account);
        rewards.claim(epoch, i, account, amount, proof);
        uint256 exec = vm.lastCallGas().gasTotalUsed;
        txGas = exec + 21_000 + _calldataGas(abi.encodeCall(rewards.claim, (epoch, i, account, amount, proof)));
        emit log_named_uint(string.concat("claim exec gas (", label, ")"), exec);
        emit log_named_uint(string.concat("claim tx gas estimate (", label, ")"), txGas);
        assertEq(open.balanceOf(account) >= amount, true);
    }

    event log_named_uint(string key, uint256 val);

    /// @dev Makes the next call pay cold-access prices, as a real transaction would.
    function _coolAll(address account) internal {
        vm.cool(address(rewards));
        vm.cool(address(open));
        vm.cool(account);
    }

    function _calldataGas(bytes memory data) internal pure returns (uint256 gas) {
        for (uint256 i = 0; i < data.length; i++) {
            gas += data[i] == 0 ? 4 : 16;
        }
    }

    /// Fuzz: in a random tree every leaf claims exactly its amount once; totals add up.
    function testFuzz_claimRandomTree(uint256 seed, uint8 size) public {
        uint256 n = bound(size, 1, 40);
        address[] memory accts = new address[](n);
        uint256[] memory amts = new uint256[](n);
        uint256 total;
        for (uint256 i = 0; i < n; i++) {
            accts[i] = address(uint160(uint256(keccak256(abi.encode(seed, i, "a")))));
            amts[i] = uint256(keccak256(abi.encode(seed, i))) % 1e24;
            total += amts[i];
        }
        (bytes32[] memory lv, bytes32 r) = buildTree(accts, amts);
        fundPool(total + 1);
        uint256 epoch = postAs(settler, r, total);
        vm.warp(block.timestamp + 1 hours);
        uint256 k = seed % n;
        bytes32[] memory pk = Merkle.proof(lv, k);
        if (n > 1) {
            vm.expectRevert(RewardDistributor.InvalidProof.selector);
            rewards.claim(epoch, k, accts[k], amts[k] + 1, pk);
        }
        for (uint256 i = 0; i < n; i++) {
            rewards.claim(epoch, i, accts[i], amts[i], Merkle.proof(lv, i));
            assertEq(open.balanceOf(accts[i]), amts[i]);
        }
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.AlreadyClaimed.selector, epoch, k));
        rewards.claim(epoch, k, accts[k], amts[k], pk);
        (, uint256 t, uint256 c,,,,,) = rewards.epochInfo(epoch);
        assertEq(c, t);
        assertEq(open.balanceOf(address(rewards)), 1, "only the carry is left");
        assertEq(rewards.carry(), 1);
    }

    function testFuzz_carryAccounting(uint96 f1, uint96 t1, uint96 f2, uint96 t2) public {
        uint256 fund1 = bound(f1, 1, 1e24);
        uint256 tot1 = bound(t1, 0, fund1);
        fundPool(fund1);
        postAs(settler, root, tot1);
        uint256 fund2 = bound(f2, 1, 1e24);
        uint256 tot2 = bound(t2, 0, fund1 - tot1 + fund2);
        fundPool(fund2);
        postAs(settler, root, tot2);
        assertEq(rewards.carry(), fund1 + fund2 - tot1 - tot2);
        assertEq(open.balanceOf(address(rewards)), fund1 + fund2);
    }
}
