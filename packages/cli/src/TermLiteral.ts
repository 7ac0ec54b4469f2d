/**
 * Erlang term literals for the shell (``t`{echo, <<"hi">>}` ``): the parser lives in
 * `@effect-otp/process/TermLiteral`; this module re-exports it under the CLI's name.
 *
 * @since 0.1.0
 */
export * from "@effect-otp/process/TermLiteral"
