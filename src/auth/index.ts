export { NATIONAL_CLOUDS, cloudByName, cloudFromDiscovery, emulatorCloud, isLoopbackUrl, type Cloud, type CloudName } from './clouds.js';
export { ClientConfigError, OAuthError, SignInRequiredError, TransientAuthError } from './errors.js';
export { discover, DiscoveryCache, DiscoveryError, fetchOpenIdConfiguration, fetchUserRealm, CONSUMERS_TENANT_ID, type Discovery } from './discovery.js';
export { endpointsOf, scopesForRequest, type AuthorityEndpoints } from './endpoints.js';
export { accountFromRefreshToken, login, DEFAULT_SCOPES, type AccountSettings, type LoginOptions } from './login.js';
export { TokenRefresher, type RefresherHealth, type RefresherOptions, type RetryPolicy } from './refresher.js';
export { ManualTimers, systemTimers, type Timers } from './timers.js';
export { TokenStore, type StoredAccount, type SignInFlow, type AccountType } from './token-store.js';
export type { TokenSource } from './token-source.js';
