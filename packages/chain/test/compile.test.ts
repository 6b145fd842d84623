import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type ChainError, compileContracts } from '../src/index.ts';
import { tempHome } from './helpers.ts';

const dir = tempHome();
after(() => dir.remove());

const token = (supply: string) => `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Supply} from "./lib/Supply.sol";
contract Tok is ERC20 { constructor() ERC20("T", "T") { _mint(msg.sender, Supply.amount() + ${supply}); } }
`;

test('compiles a source tree with OpenZeppelin imports, caches by hash, recompiles on change', () => {
  const src = join(dir.home, 'contracts', 'src');
  mkdirSync(join(src, 'lib'), { recursive: true });
  writeFileSync(join(src, 'Tok.sol'), token('0'));
  writeFileSync(
    join(src, 'lib', 'Supply.sol'),
    '// SPDX-License-Identifier: MIT\npragma solidity ^0.8.28;\nlibrary Supply { function amount() internal pure returns (uint256) { return 1e27; } }\n',
  );
  const outDir = join(dir.home, 'artifacts');
  const abiModule = join(dir.home, 'abi.gen.ts');
  const options = { sourcesDir: src, outDir, abiModule, libraryContracts: [] };

  const first = compileContracts(options);
  assert.equal(first.compiled, true);
  assert.deepEqual(first.contracts, ['Supply', 'Tok']);
  const artifact = JSON.parse(readFileSync(join(outDir, 'Tok.json'), 'utf8'));
  assert.match(artifact.bytecode, /^0x[0-9a-f]{100,}$/);
  assert.ok(artifact.abi.some((item: { name?: string }) => item.name === 'transfer'));
  assert.equal(artifact.compiler.evmVersion, 'cancun');
  assert.match(readFileSync(abiModule, 'utf8'), /export const tokAbi = \[/);

  assert.equal(compileContracts(options).compiled, false, 'unchanged sources are not recompiled');

  writeFileSync(join(src, 'Tok.sol'), token('1'));
  const third = compileContracts(options);
  assert.equal(third.compiled, true);
  assert.notEqual(third.sourceHash, first.sourceHash);

  writeFileSync(
    join(src, 'Tok.sol'),
    `${token('1')}\ncontract Broken { function f() public { undefinedThing(); } }\n`,
  );
  assert.throws(
    () => compileContracts(options),
    (e: ChainError) => {
      assert.equal(e.code, 'COMPILE_FAILED');
      assert.match(e.message, /src\/Tok\.sol: Undeclared identifier/);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    },
  );
  assert.ok(existsSync(join(outDir, 'Tok.json')), 'a failed compile leaves the last artifacts in place');
});
