/**
 * @since 0.1.0
 */
export * as GenServer from "./GenServer.js"
