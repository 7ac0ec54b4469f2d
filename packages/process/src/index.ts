/**
 * @since 0.1.0
 */
export * as Term from "./Term.js"

/**
 * @since 0.1.0
 */
export * as Signal from "./Signal.js"

/**
 * @since 0.1.0
 */
export * as Router from "./Router.js"

/**
 * @since 0.1.0
 */
export * as Mailbox from "./Mailbox.js"

/**
 * @since 0.1.0
 */
export * as ProcessRuntime from "./ProcessRuntime.js"

/**
 * @since 0.1.0
 */
export * as Process from "./Process.js"

/**
 * @since 0.1.0
 */
export * as TermLiteral from "./TermLiteral.js"

/**
 * @since 0.1.0
 */
export * as TermSchema from "./TermSchema.js"
