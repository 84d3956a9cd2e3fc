# Patchbay container image.
#   docker build -t patchbay .
#   docker run -p 3003:3003 -e DATABASE_URL=postgres://... -e PATCHBAY_SECRET_KEY=... \
#     -e PATCHBAY_ENCRYPTION_KEY=... patchbay            # HTTP API (default command: server)
#   docker run ... patchbay runner                      # function worker
# `start` without DATABASE_URL runs the embedded PostgreSQL under /app/.data (PATCHBAY_DATA_DIR);
# mount a volume there to keep it.

# ---- build: compile TypeScript and the isolated-vm native addon ----
FROM node:20-bookworm-slim AS build
# isolated-vm falls back to node-gyp when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci runs `prepare` (scripts/build.mjs), which has no sources to compile yet: `npm run build` does.
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && mkdir -p functions

# ---- runtime ----
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    PORT=3003 \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/functions ./functions
# App files stay root-owned (read-only to the service); only the data directory is writable.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3003
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3003)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "--no-node-snapshot", "dist/bin/patchbay.js"]
CMD ["server"]
