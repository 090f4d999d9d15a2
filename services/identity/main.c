/* main.c - sms-identity: reads the identity settings (argon2id parameters,
 * token lifetimes, signing keys) once, then runs the shared worker
 * (common/worker.h) with the identity operations. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "ops.h"
#include "password.h"

int main(int argc, char **argv) {
    sms_config_t cfg;
    char err[256];
    if (sms_config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "sms-identity: %s\n", err);
        return 2;
    }
    if (sms_password_init() != 0) {
        fprintf(stderr, "sms-identity: libsodium could not start\n");
        return 2;
    }
    identity_settings.argon2 = (sms_password_params_t){(unsigned long long)cfg.argon2_opslimit, (size_t)cfg.argon2_memlimit};
    identity_settings.access_ttl_s = cfg.access_token_ttl_s;
    identity_settings.refresh_ttl_s = cfg.refresh_token_ttl_s;
    memcpy(identity_settings.jwt_secret, cfg.jwt_secret, sizeof identity_settings.jwt_secret);
    memcpy(identity_settings.keys_dir, cfg.jwt_keys_dir, sizeof identity_settings.keys_dir);
    return sms_worker_service_main(argc, argv, &identity_ops);
}
