import type { SignInFlow } from './token-store.js';

/**
 * What the app registration is to Entra ID. A public client (redirect URI under "Mobile and desktop
 * applications", "Allow public client flows" for device code) has no secret and must not send one:
 * Entra refuses it with AADSTS700025 (canonical/authd#1881, virtualzone/onedrive-uploader#30). A
 * confidential client (a "Web" redirect URI, or client credentials) must send its secret, or gets
 * AADSTS7000218. https://learn.microsoft.com/en-us/entra/identity-platform/msal-client-applications
 */
export type ClientType = 'public' | 'confidential';

export interface ClientSettings {
  flow: SignInFlow;
  /** Unset: confidential for client credentials, public otherwise. */
  clientType?: ClientType;
  clientSecret?: string;
}

export function clientTypeOf(settings: Pick<ClientSettings, 'flow' | 'clientType'>): ClientType {
  return settings.clientType ?? (settings.flow === 'clientCredentials' ? 'confidential' : 'public');
}

/** The one rule for every token request: the secret goes out only from a confidential client. */
export function secretToSend(settings: ClientSettings): string | undefined {
  return clientTypeOf(settings) === 'confidential' ? settings.clientSecret : undefined;
}

