export interface FederatedServer {
  readonly vendor: string;
  readonly domain: string;
  readonly address: string;
  readonly c2sPort: number;
  readonly proxy65Port: number;
  readonly s2sPort?: number;
  readonly httpPort?: number;
  readonly proxy?: string;
  readonly service: string;
  readonly password: string;
  readonly users: readonly string[];
  readonly dir: string;
}
export declare const FED_DIR: string;
export declare const DNS_PORT: number;
export declare const montague: FederatedServer;
export declare const capulet: FederatedServer;
export declare const stranger: FederatedServer;
export declare const CA_FILE: string;
export declare const OTHER_CA_FILE: string;
export declare function missing(): Promise<string | undefined>;
export declare function ensureInstalled(): void;
export declare function makeCertificates(): void;
export declare function startFederation(): Promise<void>;
export declare function stopFederation(): Promise<void>;
export declare function federationLogs(lines?: number): string;
