export { buildDemoApp, type DemoOptions } from './app.ts';
export { SESSION_COOKIE } from './plugins/session.ts';
export { SCOPES } from './routes/sign-in.ts';
export { DEMO_APP_NAME, demoRedirectUris, ensureDemoRegistration, sesameCommand, type SesameCli, type SesameCommandOptions } from './registration.ts';
export { startDemo, type RunningDemo, type StartDemoOptions } from './start.ts';
export { DemoStore } from './store.ts';
