import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

import type { TestProject } from 'vitest/node'

const root = resolve(import.meta.dirname, '../..')
const targetDir = process.env.CARGO_TARGET_DIR ? resolve(root, process.env.CARGO_TARGET_DIR) : resolve(root, 'target')

/** Starts a binary and resolves with the URL it logs once it is listening. */
function start(binary: string, args: string[], env: Record<string, string>, pattern: RegExp): Promise<{ child: ChildProcess; url: string }> {
  const path = resolve(targetDir, 'debug', binary)
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`just e2e\`, which builds it first`)
  // Run from the temp folder, away from a `.env` the server would read in the checkout.
  const child = spawn(path, args, {
    cwd: tmpdir(),
    env: { ...process.env, ...env, NO_COLOR: '1', RUST_LOG: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolvePromise, reject) => {
    let log = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      log += chunk.toString()
      const url = pattern.exec(log)?.[1]
      if (url) resolvePromise({ child, url })
    })
    child.on('exit', (code) => reject(new Error(`${binary} exited with ${code} before listening:\n${log}`)))
  })
}

declare module 'vitest' {
  export interface ProvidedContext {
    appUrl: string
    emulatorUrl: string
    /** A second server that requires `E2E_API_KEY`. */
    securedUrl: string
  }
}

export const E2E_API_KEY = 'e2e-key-0123456789abcdef'

/** The models the servers offer: the default, and a second one that reasons. */
export const E2E_MODELS = {
  default: { id: 'anthropic.claude-3-haiku-20240307-v1:0', name: 'Claude 3 Haiku' },
  reasoning: { id: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', name: 'Claude Sonnet 4.5' },
} as const

/**
 * The real server on an ephemeral port, with the Bedrock emulator (also ephemeral) behind it.
 * Each server stores conversations in its own SQLite file in a fresh folder, removed after the run.
 */
export default async function setup(project: TestProject) {
  const data = mkdtempSync(join(tmpdir(), 'streambed-e2e-'))
  const emulator = await start('streambed-emulator', ['--port', '0', '--delay-ms', '20'], {}, /emulator on (http:\/\/\S+?);/)
  const env = {
    PORT: '0',
    BEDROCK_MODEL_ID: E2E_MODELS.default.id,
    // A second model to pick, one that reasons (models.e2e.ts).
    BEDROCK_MODELS: [E2E_MODELS.default, E2E_MODELS.reasoning].map((m) => `${m.id}=${m.name}`).join(','),
    BEDROCK_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: emulator.url,
    AWS_ACCESS_KEY_ID: 'e2e',
    AWS_SECRET_ACCESS_KEY: 'e2e',
    AWS_EC2_METADATA_DISABLED: 'true',
    STATIC_DIR: resolve(root, 'frontend/dist'),
  }
  const listening = /listening on (http:\/\/\S+)/
  const server = await start('streambed', [], { ...env, DATABASE_URL: `sqlite:${join(data, 'e2e.db')}` }, listening)
  const secured = await start(
    'streambed',
    [],
    { ...env, API_KEYS: E2E_API_KEY, DATABASE_URL: `sqlite:${join(data, 'e2e-secured.db')}` },
    listening,
  )
  project.provide('appUrl', server.url)
  project.provide('emulatorUrl', emulator.url)
  project.provide('securedUrl', secured.url)
  return async () => {
    const children = [server.child, secured.child, emulator.child]
    const exited = children.map((child) => new Promise((done) => (child.exitCode === null ? child.once('exit', done) : done(null))))
    for (const child of children) child.kill('SIGTERM')
    // The servers close their databases on the way out; the folder goes after them.
    await Promise.all(exited)
    rmSync(data, { recursive: true, force: true })
  }
}
