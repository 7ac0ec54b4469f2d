/**
 * @since 0.1.0
 */
export * as Command from "./Command.js"

/**
 * @since 0.1.0
 */
export * as Helpers from "./Helpers.js"

/**
 * @since 0.1.0
 */
export * as Main from "./Main.js"

/**
 * @since 0.1.0
 */
export * as Shell from "./Shell.js"

/**
 * @since 0.1.0
 */
export * as TermLiteral from "./TermLiteral.js"
