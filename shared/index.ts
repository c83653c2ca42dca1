export * from './auth';
export * from './envelope';
export * from './geo';
export * from './protocol';
export * from './rooms';
export * from './session';
