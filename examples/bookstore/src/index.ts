export { buildDemoApp, SCOPES, SESSION_COOKIE, type DemoOptions } from './app.ts';
export { DEMO_APP_NAME, demoRedirectUris, ensureDemoRegistration, sesameCommand, type SesameCli, type SesameCommandOptions } from './registration.ts';
export { startDemo, type RunningDemo, type StartDemoOptions } from './start.ts';
export { DemoStore } from './store.ts';
