import { type AddressInfo, type Socket, connect, createServer } from 'node:net'

/** A TCP proxy in front of a server, that a test cuts and restores as a network would drop. */
export interface TcpProxy {
  /** The proxy's URL: open the app here, and every request goes through it. */
  url: string
  /** Resets every open connection, and every new one until `restore`. */
  cut: () => void
  restore: () => void
  close: () => Promise<void>
}

/**
 * Chromium's offline emulation does not break a response already streaming (its body keeps
 * arriving), so a dropped network is made here, below HTTP: the connections are reset.
 */
export async function startProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target)
  const sockets = new Set<Socket>()
  let down = false
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {}) // a reset is the point
  }
  const server = createServer((client) => {
    if (down) {
      client.on('error', () => {})
      client.resetAndDestroy()
      return
    }
    const upstream = connect(Number(port), hostname)
    track(client)
    track(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port: proxyPort } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${proxyPort}`,
    cut() {
      down = true
      for (const socket of sockets) socket.resetAndDestroy()
    },
    restore() {
      down = false
    },
    close() {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
