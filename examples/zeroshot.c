/* A small program against the installed library: zero-shot classification of one image.
 *   cc examples/zeroshot.c $(pkg-config --cflags --libs clip) -o zeroshot
 *   ./zeroshot MODEL IMAGE "a cat" "a dog" ...                                          */
#include <clip.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s MODEL IMAGE LABEL...\n", argv[0]); return 2; }
    clip_error err = {0};
    clip_model *model = clip_model_load(argv[1], NULL, &err);
    clip_tokenizer *tok = model ? clip_tokenizer_load(NULL, &err) : NULL;
    if (!tok) { fprintf(stderr, "%s\n", err.msg); clip_model_free(model); return 1; }
    const clip_config *cfg = clip_model_get_config(model);

    /* class embeddings from two prompt templates per label */
    const char *templates[] = {"a photo of a {}.", "an emoji of {}."};
    int n_labels = argc - 3;
    clip_classifier *clf = clip_classifier_build(model, tok, (const char *const *)argv + 3, n_labels, templates, 2, &err);

    /* the image, preprocessed as OpenAI's _transform, then encoded */
    float *pixels = malloc(sizeof(float) * 3 * cfg->image_size * cfg->image_size);
    float *feature = malloc(sizeof(float) * cfg->embed_dim), *probs = malloc(sizeof(float) * n_labels);
    clip_image img;
    int rc = 1;
    if (clf && clip_image_load_file(argv[2], NULL, &img, &err) == 0) {
        if (clip_image_preprocess(&img, cfg->image_size, NULL, pixels, &err) == 0 &&
            clip_encode_image(model, pixels, 1, feature, &err) == 0 &&
            clip_classify(clf, feature, 1, probs, &err) == 0) {
            for (int i = 0; i < n_labels; i++) printf("%6.2f%%  %s\n", 100 * probs[i], clip_classifier_label(clf, i));
            rc = 0;
        }
        clip_image_free(&img);
    }
    if (rc) fprintf(stderr, "%s\n", err.msg);
    free(pixels); free(feature); free(probs);
    clip_classifier_free(clf);
    clip_tokenizer_free(tok);
    clip_model_free(model);
    return rc;
}
