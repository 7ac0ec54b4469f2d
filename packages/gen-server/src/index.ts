/**
 * @since 0.1.0
 */
export * as GenServer from "./GenServer.js"

/**
 * @since 0.1.0
 */
export * as Supervisor from "./Supervisor.js"
