/**
 * Where the API lives, read once. Empty means same origin: the Rust server serves this app in
 * production, and the Vite dev server proxies /api to it in development.
 */
export const apiBaseUrl: string = (import.meta.env.VITE_API_BASE_URL ?? '').replace(/\/+$/, '')
