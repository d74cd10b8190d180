/* OpenAI's ModifiedResNet image tower: not built yet (issue 8). */
#include "model/params.h"
#include "core/error.h"

int resnet_params_add(const clip_config *cfg, param_table *t, clip_error *err) {
    (void)cfg; (void)t;
    return clip_fail(err, CLIP_ERR_UNSUPPORTED, "ModifiedResNet image towers are not supported yet");
}
