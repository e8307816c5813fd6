-- Secrets a coordinator generated because none were configured (lease-id and token keys), kept so that they
-- outlive a restart and are shared by every coordinator of the farm.
CREATE TABLE renderfarm.secrets (
    name  text PRIMARY KEY,
    value text NOT NULL
);
