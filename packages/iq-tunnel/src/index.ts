export { IqDataCarrier, type IqDataCarrierOptions } from "./carrier.js";
export { InnerStanzaError, TunnelClosedError, TunnelDataError, TunnelRefusedError } from "./errors.js";
export { type AuthOffer, offerElement, parseOffer } from "./offer.js";
export {
  IqTunnelService,
  type IqTunnelServiceEvents,
  type IqTunnelServiceOptions,
  type OpenOptions,
  type StartRequest,
} from "./service.js";
export { IqTunnel, type IqTunnelEvents, type TunnelRole, type TunnelState } from "./tunnel.js";
