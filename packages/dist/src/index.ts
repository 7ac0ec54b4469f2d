/**
 * @since 0.1.0
 */
export * as Cookie from "./Cookie.js"
/**
 * @since 0.1.0
 */
export * as Epmd from "./Epmd.js"
/**
 * @since 0.1.0
 */
export * as Etf from "./Etf.js"
/**
 * @since 0.1.0
 */
export * as Flags from "./Flags.js"
/**
 * @since 0.1.0
 */
export * as Handshake from "./Handshake.js"
/**
 * @since 0.1.0
 */
export * as NodeName from "./NodeName.js"
/**
 * @since 0.1.0
 */
export * as HostResolver from "./HostResolver.js"
/**
 * @since 0.1.0
 */
export * as Transport from "./Transport.js"
/**
 * @since 0.1.0
 */
export * as Connection from "./Connection.js"
/**
 * @since 0.1.0
 */
export * as Control from "./Control.js"
/**
 * @since 0.1.0
 */
export * as DistNode from "./DistNode.js"
/**
 * @since 0.1.0
 */
export * as NetKernel from "./NetKernel.js"
/**
 * @since 0.1.0
 */
export * as SslDistConf from "./SslDistConf.js"
/**
 * @since 0.1.0
 */
export * as Module from "./Module.js"
/**
 * @since 0.1.0
 */
export * as Rpc from "./Rpc.js"
/**
 * @since 0.1.0
 */
export * as MemoryCluster from "./MemoryCluster.js"
