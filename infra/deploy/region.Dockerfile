# A region node image: `docker build -f infra/deploy/region.Dockerfile -t edge-realtime-region .`
# Configure it with the environment of `npm run region -- --help`; it drains on SIGTERM.
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Runtime dependencies only; tsx (a runtime dependency) runs the TypeScript sources directly.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY shared ./shared
COPY regions ./regions
COPY infra/migrate.ts ./infra/migrate.ts
COPY infra/migrations ./infra/migrations

USER node
EXPOSE 3000
ENV PORT=3000
# SIGTERM starts the drain (clients get `drain`, then the node exits 0 within DRAIN_TIMEOUT_MS).
STOPSIGNAL SIGTERM
CMD ["node", "--import", "tsx", "regions/main.ts"]
