/**
 * @since 0.1.0
 */
export * as Term from "./Term.js"
