#!/usr/bin/env node
// Compiles contracts/*.sol with solcjs (npm package `solc` from tests/services, a fixed version) into
// contracts/build/<Contract>.json: { contractName, compiler, abi, bytecode }; the test contracts in
// contracts/test/*.sol (never deployed outside tests) into contracts/build/test/<Contract>.json.
//   node contracts/compile.js           writes the artifacts
//   node contracts/compile.js --check   exits 1 when the committed artifacts differ from a fresh compile
// The output is deterministic: fixed compiler, optimizer and EVM version, and no metadata hash in the
// bytecode, so the same sources always give the same bytes.
'use strict';

const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const buildFolder = path.join(__dirname, 'build');
// Source file (relative to contracts/) and artifact (relative to contracts/build/) of each contract.
const contracts = [
    { name: 'RenderToken', source: 'RenderToken.sol', artifact: 'RenderToken.json' },
    { name: 'RenderEscrow', source: 'RenderEscrow.sol', artifact: 'RenderEscrow.json' },
    { name: 'NoReturnToken', source: 'test/NoReturnToken.sol', artifact: 'test/NoReturnToken.json' },
];

function loadSolc() {
    const modules = path.join(root, 'tests', 'services', 'node_modules');
    try {
        return require(require.resolve('solc', { paths: [modules] }));
    } catch {
        console.error(`compile.js: the npm package solc is missing in ${modules}; run scripts/install-deps.sh --dev (or npm ci --prefix tests/services).`);
        process.exit(2);
    }
}

function compile(solc) {
    const sources = {};
    for (const { source } of contracts) {
        sources[source] = { content: fs.readFileSync(path.join(__dirname, source), 'utf8') };
    }

    const input = {
        language: 'Solidity',
        sources,
        settings: {
            optimizer: { enabled: true, runs: 200 },
            evmVersion: 'cancun',
            metadata: { bytecodeHash: 'none', appendCBOR: false },
            outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
        },
    };
    const output = JSON.parse(solc.compile(JSON.stringify(input)));
    const problems = output.errors ?? [];
    for (const problem of problems) {
        console.error(problem.formattedMessage);
    }

    if (problems.some((problem) => problem.severity === 'error' || problem.severity === 'warning')) {
        console.error('compile.js: the contracts did not compile cleanly.');
        process.exit(1);
    }

    const artifacts = {};
    for (const { name, source, artifact: file } of contracts) {
        const compiled = output.contracts[source][name];
        const artifact = {
            contractName: name,
            compiler: `solc ${solc.version()}`,
            abi: compiled.abi,
            bytecode: `0x${compiled.evm.bytecode.object}`,
        };
        artifacts[file] = `${JSON.stringify(artifact, null, 2)}\n`;
    }

    return artifacts;
}

const check = process.argv.includes('--check');
const artifacts = compile(loadSolc());
let stale = 0;
for (const [file, text] of Object.entries(artifacts)) {
    const target = path.join(buildFolder, file);
    if (check) {
        const committed = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : null;
        if (committed !== text) {
            console.error(`compile.js: contracts/build/${file} ${committed === null ? 'is missing' : 'differs from a fresh compile'}; run node contracts/compile.js.`);
            stale++;
        }
    } else {
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, text);
        console.log(`compile.js: wrote contracts/build/${file}`);
    }
}

process.exit(stale === 0 ? 0 : 1);
