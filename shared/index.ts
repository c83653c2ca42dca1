export * from './auth';
export * from './envelope';
export * from './errors';
export * from './geo';
export * from './protocol';
export * from './rooms';
export * from './session';
export * from './json-value';
