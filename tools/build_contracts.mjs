// Rebuild the EVM test contracts' ABI and bytecode from their Solidity source.
//
//   tools/build_contracts.sh           (installs the pinned solc from npm, then runs this)
//   node tools/build_contracts.mjs [--check]
//
// Reads packages/daemon/src/waiaas_daemon/chain/evm/contracts/src/*.sol and writes
// one <Name>.json beside src/ per contract: abi, bytecode, deployedBytecode, the
// compiler version and solc's metadata (whose sources[...].keccak256 records the
// source each bytecode was built from; tests/daemon/test_evm_contracts.py checks it).
// --check writes nothing and exits 1 when a committed artifact differs.
// The solc package is resolved from NODE_PATH or the npm prefix given by
// WAIAAS_NPM_PREFIX (default ~/.cache/waiaas-tests/npm).

import { createRequire } from 'node:module'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

export const SOLC_VERSION = '0.8.28'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const contractsDir = path.join(root, 'packages/daemon/src/waiaas_daemon/chain/evm/contracts')
const prefix = process.env.WAIAAS_NPM_PREFIX || path.join(os.homedir(), '.cache/waiaas-tests/npm')
const require = createRequire(path.join(prefix, 'node_modules', 'index.js'))
const solc = require('solc')

const compilerVersion = solc.version()
if (!compilerVersion.startsWith(SOLC_VERSION + '+')) {
  console.error(`solc ${compilerVersion} found; this build pins ${SOLC_VERSION} (npm install solc@${SOLC_VERSION})`)
  process.exit(2)
}

const sourceFiles = fs.readdirSync(path.join(contractsDir, 'src')).filter((f) => f.endsWith('.sol')).sort()
const input = {
  language: 'Solidity',
  sources: Object.fromEntries(
    sourceFiles.map((f) => [f, { content: fs.readFileSync(path.join(contractsDir, 'src', f), 'utf8') }]),
  ),
  settings: {
    // Paris: no PUSH0, so the bytecode runs on every EVM chain and engine we use.
    evmVersion: 'paris',
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'metadata'] } },
  },
}
const output = JSON.parse(solc.compile(JSON.stringify(input)))
const errors = (output.errors || []).filter((e) => e.severity === 'error')
for (const e of output.errors || []) console.error(e.formattedMessage)
if (errors.length) process.exit(1)

const check = process.argv.includes('--check')
let stale = 0
for (const file of sourceFiles) {
  for (const [contractName, c] of Object.entries(output.contracts[file])) {
    const artifact = {
      contractName,
      sourceName: `src/${file}`,
      compiler: { name: 'solc', version: compilerVersion, settings: input.settings },
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      metadata: c.metadata,
    }
    const target = path.join(contractsDir, `${contractName}.json`)
    const text = JSON.stringify(artifact, null, 2) + '\n'
    if (check) {
      const old = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : ''
      if (old !== text) {
        console.error(`stale: ${path.relative(root, target)}`)
        stale += 1
      }
    } else {
      fs.writeFileSync(target, text)
      console.log(`wrote ${path.relative(root, target)}`)
    }
  }
}
process.exit(stale ? 1 : 0)
