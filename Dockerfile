# Signer image: Node 24, non-root, runs with a read-only root filesystem (data on /data).
#   docker build -t mpc-signer .
#   docker run --read-only -v signer-data:/data -v ./signer.yaml:/etc/mpc/signer.yaml:ro mpc-signer
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY signer ./signer
COPY operator ./operator
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    MPC_CONFIG=/etc/mpc/signer.yaml
WORKDIR /app
COPY --from=build --chown=root:root /src/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist ./dist
COPY --from=build --chown=root:root /src/package.json ./package.json
# The node image's unprivileged user; /data is the only writable path the signer needs.
RUN mkdir -p /data && chown node:node /data
USER node:node
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["node", "dist/signer/main.js"]
CMD ["start"]
