/**
 * @since 0.1.0
 */
export * as GlobalRegistry from "./GlobalRegistry.js"
