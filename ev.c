#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "model.h"
#include "perplexity.h"
int ev_main(void){
  ls_error e; ls_model *m=NULL;
  if(ls_model_open("build/tmp/bench_infer/hf",NULL,&m,&e)){fprintf(stderr,"%s\n",e.msg);return 1;}
  FILE*f=fopen("build/tmp/bench_infer/tokens.bin","rb"); int32_t tok[2048]; fread(tok,4,2048,f); fclose(f);
  ls_ppl_params p=ls_ppl_params_default(LS_PPL_LLAMACPP); p.ctx=512; ls_ppl_result r;
  for(int i=0;i<3;i++){struct timespec a,b; clock_gettime(CLOCK_MONOTONIC,&a);
  if(ls_ppl_eval(m,NULL,tok,2048,1,&p,NULL,NULL,NULL,&r,&e)){fprintf(stderr,"%s\n",e.msg);return 1;}
  clock_gettime(CLOCK_MONOTONIC,&b); printf("%.3f s ppl %.4f\n",(b.tv_sec-a.tv_sec)+1e-9*(b.tv_nsec-a.tv_nsec),r.ppl); ls_ppl_result_free(&r);}
  return 0;}
